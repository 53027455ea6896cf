"""One text of each query for both back ends: SQLite's SQL, translated for PostgreSQL.

Repository modules write SQLite's dialect with ``?`` placeholders. :func:`query` rewrites a
statement for PostgreSQL once (cached) by walking its tokens, so that nothing inside a
string literal, a quoted name or a comment is ever touched:

* ``?`` → ``$1, $2, …``;
* ``INSERT OR IGNORE`` → ``INSERT … ON CONFLICT DO NOTHING``;
* ``json_each(?)`` over a JSON array → ``json_array_elements_text(…) AS value`` (its rows are
  text: compare numbers through ``CAST(value AS BIGINT)``, which both back ends read alike);
* ``group_concat`` → ``string_agg``, ``json_group_array`` → ``json_agg`` (``'[]'`` when empty,
  as SQLite), ``json_array`` → ``json_build_array``, ``json_extract(x, '$.a')`` →
  ``CAST(x AS json) #>> '{a}'`` (text), ``ifnull`` → ``coalesce``, and
  ``min``/``max`` with two or more arguments → ``LEAST``/``GREATEST``;
* the type ``REAL`` → ``DOUBLE PRECISION`` (PostgreSQL's ``real`` is single precision).

:func:`script` does the same for a migration and adds what DDL needs: ``INTEGER PRIMARY KEY``
→ an identity column, every other ``INTEGER`` → ``BIGINT`` (Telegram ids pass 2³¹), text
columns in the ``"C"`` collation (byte order, as SQLite compares), no ``WITHOUT ROWID`` or
``AUTOINCREMENT``, no PRAGMA statements, and a foreign key to a table created later in the
same script (SQLite does not mind the order; PostgreSQL does) added once the script is done.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

_TOKEN = re.compile(
    r"""
    (?P<str>'(?:[^']|'')*')
   |(?P<qid>"(?:[^"]|"")*")
   |(?P<comment>--[^\n]*|/\*.*?\*/)
   |(?P<param>\?)
   |(?P<word>[A-Za-z_][A-Za-z_0-9]*)
   |(?P<num>\d+(?:\.\d*)?)
   |(?P<ws>\s+)
   |(?P<other>.)
    """,
    re.S | re.X,
)


@dataclass(slots=True)
class Token:
    kind: str
    text: str

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else self.text


def tokens(sql: str) -> list[Token]:
    found: list[Token] = []
    for match in _TOKEN.finditer(sql):
        kind = match.lastgroup or "other"
        found.append(Token(kind, match.group()))
    return found


def _next(toks: list[Token], at: int) -> int:
    """Index of the first token after ``at`` that is neither space nor a comment."""
    at += 1
    while at < len(toks) and toks[at].kind in ("ws", "comment"):
        at += 1
    return at


def _closing(toks: list[Token], opening: int) -> int:
    """Index of the parenthesis closing the one at ``opening``."""
    depth = 0
    for at in range(opening, len(toks)):
        if toks[at].text == "(":
            depth += 1
        elif toks[at].text == ")":
            depth -= 1
            if depth == 0:
                return at
    raise ValueError("unbalanced parentheses in SQL")


def _arguments(toks: list[Token], opening: int, closing: int) -> list[list[Token]]:
    """The top-level, comma-separated arguments between two parentheses."""
    args: list[list[Token]] = [[]]
    depth = 0
    for tok in toks[opening + 1 : closing]:
        if tok.text == "(":
            depth += 1
        elif tok.text == ")":
            depth -= 1
        if tok.text == "," and depth == 0:
            args.append([])
        else:
            args[-1].append(tok)
    return args


def _join(toks: list[Token]) -> str:
    return "".join(tok.text for tok in toks)


def _rewrite_functions(toks: list[Token]) -> list[Token]:
    """Function calls SQLite and PostgreSQL spell differently (recursively, inside out)."""
    out: list[Token] = []
    at = 0
    while at < len(toks):
        tok = toks[at]
        name = tok.upper
        after = _next(toks, at)
        is_call = tok.kind == "word" and after < len(toks) and toks[after].text == "("
        if not is_call or name not in _FUNCTIONS:
            out.append(tok)
            at += 1
            continue
        closing = _closing(toks, after)
        args = [_rewrite_functions(arg) for arg in _arguments(toks, after, closing)]
        out.extend(tokens(_FUNCTIONS[name](args)))
        at = closing + 1
    return out


_Rewrite = Callable[[list[list["Token"]]], str]


def _min_max(sqlite_name: str, pg_name: str) -> _Rewrite:
    def rewrite(args: list[list[Token]]) -> str:
        name = pg_name if len(args) > 1 else sqlite_name
        return f"{name}({', '.join(_join(a).strip() for a in args)})"

    return rewrite


def _group_concat(args: list[list[Token]]) -> str:
    separator = _join(args[1]).strip() if len(args) > 1 else "','"
    return f"string_agg(CAST({_join(args[0]).strip()} AS TEXT), {separator})"


def _json_each(args: list[list[Token]]) -> str:
    return f"json_array_elements_text(CAST({_join(args[0]).strip()} AS json)) AS value"


def _json_group_array(args: list[list[Token]]) -> str:
    return f"coalesce(json_agg({_join(args[0]).strip()}), CAST('[]' AS json))"


def _json_extract(args: list[list[Token]]) -> str:
    """``json_extract(x, '$.a.b[0]')`` → ``CAST(x AS json) #>> '{a,b,0}'`` (as text)."""
    path = _join(args[1]).strip()
    if not (path.startswith("'$") and path.endswith("'")):
        raise ValueError(f"json_extract needs a literal path, got {path}")
    steps = [step for step in re.split(r"[.\[\]]+", path[2:-1]) if step]
    return f"(CAST({_join(args[0]).strip()} AS json) #>> '{{{','.join(steps)}}}')"


def _renamed(name: str) -> _Rewrite:
    return lambda args: f"{name}({', '.join(_join(a).strip() for a in args)})"


_FUNCTIONS: dict[str, _Rewrite] = {
    "MIN": _min_max("min", "LEAST"),
    "MAX": _min_max("max", "GREATEST"),
    "GROUP_CONCAT": _group_concat,
    "JSON_EACH": _json_each,
    "JSON_GROUP_ARRAY": _json_group_array,
    "JSON_ARRAY": _renamed("json_build_array"),
    "JSON_EXTRACT": _json_extract,
    "IFNULL": _renamed("coalesce"),
}


def _statements(toks: list[Token]) -> list[list[Token]]:
    """Split on top-level semicolons (each statement keeps its own semicolon)."""
    found: list[list[Token]] = [[]]
    for tok in toks:
        found[-1].append(tok)
        if tok.text == ";":
            found.append([])
    return [statement for statement in found if any(t.kind != "ws" for t in statement)]


def _words(statement: list[Token]) -> list[tuple[int, str]]:
    return [(i, t.upper) for i, t in enumerate(statement) if t.kind == "word"]


def _insert_or_ignore(statement: list[Token]) -> list[Token]:
    """``INSERT OR IGNORE INTO …`` → ``INSERT INTO … ON CONFLICT DO NOTHING``."""
    words = _words(statement)
    if len(words) < 3 or [w for _, w in words[:2]] != ["INSERT", "OR"]:
        return statement
    action = words[2][1]
    if action != "IGNORE":
        raise ValueError(f"INSERT OR {action} has no portable translation: write ON CONFLICT")
    first, third = words[1][0], words[2][0]
    body = statement[:first] + statement[third + 1 :]
    # ON CONFLICT goes before RETURNING, or before the closing semicolon, or at the end.
    depth = 0
    for at, tok in enumerate(body):
        depth += tok.text == "("
        depth -= tok.text == ")"
        if depth == 0 and (tok.upper == "RETURNING" or tok.text == ";"):
            return [*body[:at], Token("word", "ON CONFLICT DO NOTHING "), *body[at:]]
    return [*body, Token("word", " ON CONFLICT DO NOTHING")]


_IS_OPERAND = {"NULL", "NOT", "TRUE", "FALSE", "DISTINCT", "UNKNOWN"}


def _simple_words(toks: list[Token]) -> list[Token]:
    """``REAL`` → ``DOUBLE PRECISION``; SQLite's ``a IS b`` / ``a IS NOT b`` (null-safe
    comparisons with any value) → ``IS [NOT] DISTINCT FROM``."""
    out: list[Token] = []
    at = 0
    while at < len(toks):
        tok = toks[at]
        if tok.upper == "REAL":
            out.append(Token("word", "DOUBLE PRECISION"))
        elif tok.upper == "IS":
            after = _next(toks, at)
            following = toks[after].upper if after < len(toks) else ""
            if following == "NOT":
                operand_at = _next(toks, after)
                operand = toks[operand_at].upper if operand_at < len(toks) else ""
                if operand not in _IS_OPERAND:
                    out.append(Token("word", "IS DISTINCT FROM"))
                    at = after + 1
                    continue
            elif following not in _IS_OPERAND:
                out.append(Token("word", "IS NOT DISTINCT FROM"))
                at += 1
                continue
            out.append(tok)
        else:
            out.append(tok)
        at += 1
    return out


def _numbered(toks: list[Token]) -> str:
    parts: list[str] = []
    count = 0
    for tok in toks:
        if tok.kind == "param":
            count += 1
            parts.append(f"${count}")
        else:
            parts.append(tok.text)
    return "".join(parts)


@lru_cache(maxsize=4096)
def query(sql: str) -> str:
    """A statement (or several) in SQLite's dialect, for PostgreSQL."""
    return _numbered(_translated(sql))


@lru_cache(maxsize=1024)
def query_around_parameters(sql: str) -> tuple[str, ...]:
    """The statement for PostgreSQL cut at its parameters: n + 1 texts around its n
    parameters, for sending it with its values written in (storage/postgres.py)."""
    parts: list[list[str]] = [[]]
    for tok in _translated(sql):
        if tok.kind == "param":
            parts.append([])
        else:
            parts[-1].append(tok.text)
    return tuple("".join(part) for part in parts)


def _translated(sql: str) -> list[Token]:
    toks = _simple_words(_rewrite_functions(tokens(sql)))
    out: list[Token] = []
    for statement in _statements(toks):
        out.extend(_insert_or_ignore(statement))
    return out


# --- migrations --------------------------------------------------------------------------

_CREATE_TABLE = re.compile(r"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.I)
_TEXT_COLUMN = re.compile(r"(?im)^(\s*(?:\(\s*)?[a-z_][a-z_0-9]*\s+)TEXT\b")
_ADD_TEXT_COLUMN = re.compile(r"(?i)(ADD\s+COLUMN\s+[a-z_][a-z_0-9]*\s+)TEXT\b")


def _ddl_words(statement: list[Token]) -> list[Token]:
    """Types and clauses of table definitions, for PostgreSQL."""
    out: list[Token] = []
    at = 0
    while at < len(statement):
        tok = statement[at]
        word = tok.upper
        if word == "INTEGER":
            after = _next(statement, at)
            key = _next(statement, after)
            if (
                after < len(statement)
                and statement[after].upper == "PRIMARY"
                and key < len(statement)
                and statement[key].upper == "KEY"
            ):
                out.append(Token("word", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"))
                at = key + 1
                continue
            out.append(Token("word", "BIGINT"))
        elif word == "AUTOINCREMENT":
            pass
        elif word == "WITHOUT":
            after = _next(statement, at)
            if after < len(statement) and statement[after].upper == "ROWID":
                at = after + 1
                continue
            out.append(tok)
        else:
            out.append(tok)
        at += 1
    return out


def _collate_text(sql: str) -> str:
    if _CREATE_TABLE.match(sql):
        return _TEXT_COLUMN.sub(r'\1TEXT COLLATE "C"', sql)
    return _ADD_TEXT_COLUMN.sub(r'\1TEXT COLLATE "C"', sql)


_TABLE_CONSTRAINTS = {"CONSTRAINT", "PRIMARY", "FOREIGN", "UNIQUE", "CHECK"}


def _references(statement: list[Token]) -> list[tuple[int, int, str, str]]:
    """Column-level ``REFERENCES t(c) [ON …]`` clauses: (start, end, column, target table).
    ``end`` is exclusive; the column is the word that opened the column definition."""
    found: list[tuple[int, int, str, str]] = []
    column = ""
    depth = 0
    starting = True
    at = 0
    while at < len(statement):
        tok = statement[at]
        if tok.text == "(":
            depth += 1
            starting = depth == 1
        elif tok.text == ")":
            depth -= 1
        elif tok.text == "," and depth == 1:
            starting = True
        elif tok.kind == "word" and starting:
            # a table constraint (FOREIGN KEY …) is not a column: leave it where it is
            column = "" if tok.upper in _TABLE_CONSTRAINTS else tok.text
            starting = False
        elif tok.upper == "REFERENCES" and depth == 1 and column:
            target_at = _next(statement, at)
            end = _next(statement, target_at)
            if end < len(statement) and statement[end].text == "(":
                end = _closing(statement, end) + 1
            # ON DELETE/UPDATE actions and DEFERRABLE belong to the clause
            while True:
                after = _next(statement, end - 1)
                if after < len(statement) and statement[after].upper == "ON":
                    end = _next(statement, _next(statement, after))
                    action = statement[end].upper if end < len(statement) else ""
                    end += 1
                    if action in ("SET", "NO"):
                        end = _next(statement, end - 1) + 1
                    continue
                break
            found.append((at, end, column, statement[target_at].text))
            at = end
            continue
        at += 1
    return found


def script(sql: str, existing: set[str]) -> str:
    """A migration for PostgreSQL. ``existing``: tables the database already has."""
    known = {name.lower() for name in existing}
    parts: list[str] = []
    deferred: list[str] = []
    for statement in _statements(tokens(sql)):
        words = _words(statement)
        if not words:
            continue  # comments only
        if words[0][1] == "PRAGMA":
            continue
        statement = [tok for tok in statement if tok.kind != "comment"]
        statement = _insert_or_ignore(_simple_words(_rewrite_functions(_ddl_words(statement))))
        text = _join(statement)
        created = _CREATE_TABLE.match(text)
        if created:
            table = created.group(1)
            for start, end, column, target in reversed(_references(statement)):
                if target.lower() in known or target.lower() == table.lower():
                    continue
                clause = _join(statement[start:end]).strip()
                deferred.append(f"ALTER TABLE {table} ADD FOREIGN KEY ({column}) {clause};")
                statement = statement[:start] + statement[end:]
            text = _join(statement)
            known.add(table.lower())
        renamed = re.match(r"^\s*ALTER\s+TABLE\s+\w+\s+RENAME\s+TO\s+(\w+)", text, re.I)
        if renamed:
            known.add(renamed.group(1).lower())
        parts.append(_collate_text(text.strip()))
    return "\n".join(parts + deferred)
