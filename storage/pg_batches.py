"""Many rows of one statement in one round trip on PostgreSQL (``PgTx.executemany``): an
INSERT … VALUES or an UPDATE … WHERE id = $n rewritten to take one array per parameter,
the rows unnested."""

from __future__ import annotations

import enum
from functools import lru_cache
from typing import Any

from storage import dialect


class BatchShape(enum.Enum):
    OTHER = 0
    INSERT = 1  # INSERT INTO t (…) VALUES (…): one row per statement, or an error
    UPDATE_BY_ID = 2  # UPDATE t SET … WHERE id = $n …: at most the row with that id


_ROWS_ALIAS = "posko_rows"


def _top_level(pg_sql: str) -> list[tuple[int, dialect.Token]]:
    """The tokens outside parentheses, with their index, spaces and comments left out."""
    found = []
    depth = 0
    for at, tok in enumerate(dialect.tokens(pg_sql)):
        if tok.text == "(":
            depth += 1
        elif tok.text == ")":
            depth -= 1
        elif depth == 0 and tok.kind not in ("ws", "comment"):
            found.append((at, tok))
    return found


@lru_cache(maxsize=512)
def batch_shape(pg_sql: str) -> BatchShape:
    top = [tok.upper for _, tok in _top_level(pg_sql)]
    if ";" in top[:-1] or "RETURNING" in top:
        return BatchShape.OTHER
    plain_values = top.count("VALUES") == 1 and "SELECT" not in top and "ON" not in top
    if top[:2] == ["INSERT", "INTO"] and plain_values and "DEFAULT" not in _words(pg_sql):
        return BatchShape.INSERT
    if top[:1] == ["UPDATE"] and "FROM" not in top and top.count("WHERE") == 1:
        after = top[top.index("WHERE") + 1 :]
        if after[:3] == ["ID", "=", "$"]:
            return BatchShape.UPDATE_BY_ID
    return BatchShape.OTHER


def _words(pg_sql: str) -> set[str]:
    return {tok.upper for tok in dialect.tokens(pg_sql) if tok.kind == "word"}


def _unnest(types: tuple[str, ...]) -> str:
    arrays = ", ".join(f"${n}::{kind}[]" for n, kind in enumerate(types, 1))
    names = ", ".join(f"p{n}" for n in range(1, len(types) + 1))
    return f"unnest({arrays}) WITH ORDINALITY AS {_ROWS_ALIAS}({names}, posko_at)"


def _from_rows(toks: list[dialect.Token], at: int) -> tuple[str, int]:
    """The text of ``$n`` at ``toks[at]`` as the unnested column, and the next index."""
    if toks[at].text == "$" and at + 1 < len(toks) and toks[at + 1].kind == "num":
        return f"{_ROWS_ALIAS}.p{toks[at + 1].text}", at + 2
    return toks[at].text, at + 1


@lru_cache(maxsize=512)
def insert_from_arrays(pg_sql: str, types: tuple[str, ...]) -> str:
    """``INSERT INTO t (a, b) VALUES ($1, 'x')`` → ``INSERT INTO t (a, b) SELECT r.p1, 'x'
    FROM unnest($1::int8[]) WITH ORDINALITY AS r(p1, posko_at) ORDER BY posko_at``."""
    toks = dialect.tokens(pg_sql)
    values = next(at for at, tok in _top_level(pg_sql) if tok.upper == "VALUES")
    opening = next(at for at in range(values, len(toks)) if toks[at].text == "(")
    depth, closing = 0, opening
    for closing in range(opening, len(toks)):
        depth += {"(": 1, ")": -1}.get(toks[closing].text, 0)
        if depth == 0:
            break
    out = [tok.text for tok in toks[:values]] + ["SELECT "]
    at = opening + 1
    while at < closing:
        text, at = _from_rows(toks, at)
        out.append(text)
    out.append(f" FROM {_unnest(types)} ORDER BY posko_at")
    out.extend(tok.text for tok in toks[closing + 1 :])
    return "".join(out)


def _id_parameter(pg_sql: str) -> int:
    """The number n of ``WHERE id = $n`` (zero-based) in an UPDATE_BY_ID statement."""
    top = _top_level(pg_sql)
    words = [tok.upper for _, tok in top]
    return int(top[words.index("WHERE") + 4][1].text) - 1


def distinct_ids(batch: list[list[Any]], sql: str) -> bool:
    at = _id_parameter(dialect.query(sql))
    ids = [values[at] for values in batch]
    return None not in ids and len(set(ids)) == len(ids)


@lru_cache(maxsize=512)
def update_from_arrays(pg_sql: str, types: tuple[str, ...]) -> str:
    """``UPDATE t SET a = $1 WHERE id = $2`` → ``UPDATE t SET a = r.p1 FROM
    unnest($1::text[], $2::int8[]) WITH ORDINALITY AS r(p1, p2, posko_at) WHERE id = r.p2``."""
    toks = dialect.tokens(pg_sql)
    where = next(at for at, tok in _top_level(pg_sql) if tok.upper == "WHERE")
    out: list[str] = []
    at = 0
    while at < len(toks):
        if at == where:
            out.append(f"FROM {_unnest(types)} ")
        text, at = _from_rows(toks, at)
        out.append(text)
    return "".join(out)
