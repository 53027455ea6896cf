"""Parse modes as Telegram applies them: HTML, MarkdownV2 and legacy Markdown rendered into
plain text and entities, with lengths and offsets in UTF-16 code units.
"""

from __future__ import annotations

import re
from typing import Any

from bot.rehearsal.emulator.records import JSONDict
from bot.rehearsal.emulator.wire import _ApiError


class _ParseError(Exception):
    pass


def _u16len(text: str) -> int:
    # Telegram measures lengths and entity offsets in UTF-16 code units.
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


class _TextBuilder:
    """Accumulates rendered text while tracking the UTF-16 offset for entities."""

    __slots__ = ("entities", "offset", "parts")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.offset = 0
        self.entities: list[JSONDict] = []

    def add(self, text: str) -> None:
        if text:
            self.parts.append(text)
            self.offset += _u16len(text)

    def entity(self, etype: str, start: int, extra: JSONDict | None = None) -> None:
        length = self.offset - start
        if length > 0:
            ent: JSONDict = {"type": etype, "offset": start, "length": length}
            if extra:
                ent.update(extra)
            self.entities.append(ent)

    def result(self) -> tuple[str, list[JSONDict]]:
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), self.entities


_HTML_SPECIAL_RE = re.compile(r"[<&]")
_HTML_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s[^<>]*)?)>")
_HTML_ATTR_RE = re.compile(r"""([A-Za-z_-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_HTML_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z]{2,8});")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


def _parse_html(text: str) -> tuple[str, list[JSONDict]]:
    out = _TextBuilder()
    # (tag name, entity type or None, start offset, extra fields)
    stack: list[tuple[str, str | None, int, JSONDict]] = []
    pos = 0
    while True:
        match = _HTML_SPECIAL_RE.search(text, pos)
        if match is None:
            out.add(text[pos:])
            break
        idx = match.start()
        out.add(text[pos:idx])
        if text[idx] == "&":
            ent = _HTML_ENTITY_RE.match(text, idx)
            if ent is None:
                out.add("&")
                pos = idx + 1
                continue
            name = ent.group(1)
            if name.startswith("#"):
                code = int(name[2:], 16) if name[1:2] in ("x", "X") else int(name[1:])
                out.add(chr(code) if 0 < code <= 0x10FFFF else "\ufffd")
            else:
                out.add(_HTML_NAMED.get(name.lower(), ent.group(0)))
            pos = ent.end()
            continue
        tag = _HTML_TAG_RE.match(text, idx)
        if tag is None:
            if text.find(">", idx) < 0:
                raise _ParseError(
                    f"Can't find end of the tag at byte offset {_byte_offset(text, idx)}"
                )
            raise _ParseError(f'Unsupported start tag "" at byte offset {_byte_offset(text, idx)}')
        closing, name, attr_text = tag.group(1) == "/", tag.group(2).lower(), tag.group(3)
        pos = tag.end()
        if closing:
            if not stack:
                raise _ParseError(
                    f'Unexpected end tag "{name}" at byte offset {_byte_offset(text, idx)}'
                )
            top_name, closed_type, start, closed_extra = stack.pop()
            if top_name != name:
                raise _ParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(text, idx)}, "
                    f'expected "</{top_name}>", found "</{name}>"'
                )
            if closed_type is not None:
                out.entity(closed_type, start, closed_extra)
            continue
        if name not in _HTML_TAGS:
            raise _ParseError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, idx)}'
            )
        attrs = {
            m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or ""
            for m in _HTML_ATTR_RE.finditer(attr_text)
        }
        etype: str | None = _HTML_TAGS[name]
        extra: JSONDict = {}
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise _ParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(text, idx)}'
            )
        if name == "a":
            href = attrs.get("href")
            if href:
                extra["url"] = href
            else:
                etype = None
        elif name == "tg-emoji":
            if not attrs.get("emoji-id"):
                raise _ParseError(
                    f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset '
                    f"{_byte_offset(text, idx)}"
                )
            extra["custom_emoji_id"] = attrs["emoji-id"]
        elif name == "blockquote" and "expandable" in attr_text:
            etype = "expandable_blockquote"
        elif name == "code" and stack and stack[-1][0] == "pre":
            language = attrs.get("class", "")
            if language.startswith("language-"):
                stack[-1][3]["language"] = language[len("language-") :]
                etype = None
        stack.append((name, etype, out.offset, extra))
    if stack:
        raise _ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.result()


_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")

_MDV2_NAMES = {
    "*": ("bold", "Bold"),
    "_": ("italic", "Italic"),
    "__": ("underline", "Underline"),
    "~": ("strikethrough", "Strikethrough"),
    "||": ("spoiler", "Spoiler"),
    "[": ("text_link", "TextUrl"),
    "![": ("custom_emoji", "CustomEmoji"),
}


def _find_unescaped(text: str, needle: str, start: int) -> int:
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith(needle, i):
            return i
        i += 1
    return -1


def _unescape_v2(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)


def _parse_markdown_v2(text: str) -> tuple[str, list[JSONDict]]:
    out = _TextBuilder()
    stack: list[tuple[str, int, int]] = []  # (marker, entity start, source index)
    quote_start: int | None = None
    i, n = 0, len(text)

    def toggle(marker: str, src: int) -> None:
        for k in range(len(stack) - 1, -1, -1):
            if stack[k][0] == marker:
                if k != len(stack) - 1:
                    top = stack[-1]
                    raise _ParseError(
                        f"Can't find end of {_MDV2_NAMES[top[0]][1]} entity at byte offset "
                        f"{_byte_offset(text, top[2])}"
                    )
                _marker, start, _src = stack.pop()
                out.entity(_MDV2_NAMES[marker][0], start)
                return
        stack.append((marker, out.offset, src))

    def reserved(ch: str) -> _ParseError:
        return _ParseError(
            f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
        )

    while i < n:
        ch = text[i]
        line_start = i == 0 or text[i - 1] == "\n"
        if ch == "\\":
            if i + 1 >= n:
                raise reserved("\\")
            out.add(text[i + 1])
            i += 2
            continue
        if ch == "`":
            if text.startswith("```", i):
                end = _find_unescaped(text, "```", i + 3)
                if end < 0:
                    raise _ParseError(
                        f"Can't find end of Pre entity at byte offset {_byte_offset(text, i)}"
                    )
                body = text[i + 3 : end]
                extra: JSONDict = {}
                first, sep, rest = body.partition("\n")
                if sep and first and not any(c.isspace() for c in first):
                    extra["language"] = first
                    body = rest
                start = out.offset
                out.add(_unescape_v2(body))
                out.entity("pre", start, extra)
                i = end + 3
                continue
            end = _find_unescaped(text, "`", i + 1)
            if end < 0:
                raise _ParseError(
                    f"Can't find end of Code entity at byte offset {_byte_offset(text, i)}"
                )
            start = out.offset
            out.add(_unescape_v2(text[i + 1 : end]))
            out.entity("code", start)
            i = end + 1
            continue
        if ch == "_" and text.startswith("__", i):
            toggle("__", i)
            i += 2
            continue
        if ch in "*_~":
            toggle(ch, i)
            i += 1
            continue
        if ch == "|":
            if not text.startswith("||", i):
                raise reserved("|")
            toggle("||", i)
            i += 2
            continue
        if ch == "[" or (ch == "!" and text.startswith("![", i)):
            marker = "[" if ch == "[" else "!["
            stack.append((marker, out.offset, i))
            i += len(marker)
            continue
        if ch == "]":
            if not stack or stack[-1][0] not in ("[", "!["):
                raise reserved("]")
            if not text.startswith("(", i + 1):
                raise reserved("]")
            end = _find_unescaped(text, ")", i + 2)
            if end < 0:
                raise _ParseError(
                    f"Can't find end of a URL at byte offset {_byte_offset(text, i + 1)}"
                )
            url = _unescape_v2(text[i + 2 : end])
            marker, start, _src = stack.pop()
            if marker == "[":
                out.entity("text_link", start, {"url": url})
            else:
                out.entity("custom_emoji", start, {"custom_emoji_id": url.rpartition("=")[2]})
            i = end + 1
            continue
        if ch == ">" and line_start:
            if quote_start is None:
                quote_start = out.offset
            i += 1
            continue
        if ch in _MDV2_RESERVED:
            raise reserved(ch)
        if ch == "\n" and quote_start is not None and not text.startswith(">", i + 1):
            out.entity("blockquote", quote_start)
            quote_start = None
        out.add(ch)
        i += 1
    if quote_start is not None:
        out.entity("blockquote", quote_start)
    if stack:
        marker, _start, src = stack[-1]
        raise _ParseError(
            f"Can't find end of {_MDV2_NAMES[marker][1]} entity at byte offset "
            f"{_byte_offset(text, src)}"
        )
    return out.result()


def _parse_markdown(text: str) -> tuple[str, list[JSONDict]]:
    out = _TextBuilder()
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.add(text[i + 1])
            i += 2
            continue
        if ch in "*_":
            end = text.find(ch, i + 1)
            if end < 0:
                raise _ParseError(
                    f"Can't find end of the entity starting at byte offset {_byte_offset(text, i)}"
                )
            start = out.offset
            out.add(text[i + 1 : end])
            out.entity("bold" if ch == "*" else "italic", start)
            i = end + 1
            continue
        if ch == "`":
            fence = "```" if text.startswith("```", i) else "`"
            end = text.find(fence, i + len(fence))
            if end < 0:
                raise _ParseError(
                    f"Can't find end of the entity starting at byte offset {_byte_offset(text, i)}"
                )
            start = out.offset
            out.add(text[i + len(fence) : end])
            out.entity("pre" if fence == "```" else "code", start)
            i = end + len(fence)
            continue
        if ch == "[":
            close = text.find("](", i + 1)
            end = text.find(")", close + 2) if close >= 0 else -1
            if close < 0 or end < 0:
                raise _ParseError(
                    f"Can't find end of the entity starting at byte offset {_byte_offset(text, i)}"
                )
            start = out.offset
            out.add(text[i + 1 : close])
            out.entity("text_link", start, {"url": text[close + 2 : end]})
            i = end + 1
            continue
        out.add(ch)
        i += 1
    return out.result()


def _strip_entities(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    # Telegram trims surrounding whitespace from texts and captions and shifts entities along.
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = _u16len(text[: len(text) - len(text.lstrip())])
    total = _u16len(stripped)
    shifted: list[JSONDict] = []
    for ent in entities:
        start = max(0, int(ent["offset"]) - lead)
        end = min(total, int(ent["offset"]) + int(ent["length"]) - lead)
        if end > start:
            shifted.append({**ent, "offset": start, "length": end - start})
    return stripped, shifted


def render_text(
    text: str, parse_mode: str | None, entities: Any = None
) -> tuple[str, list[JSONDict]]:
    """Render ``text`` the way Telegram does: returns ``(plain_text, entities)``.

    Raises ``ValueError`` with Telegram's description for malformed markup.
    """
    try:
        return _render(text, parse_mode, entities)
    except _ApiError as exc:
        raise ValueError(exc.description) from None


def _render(text: str, parse_mode: str | None, entities: Any) -> tuple[str, list[JSONDict]]:
    mode = (parse_mode or "").lower()
    try:
        if not mode:
            ents = (
                [e for e in entities if isinstance(e, dict)] if isinstance(entities, list) else []
            )
            plain, ents = text, ents
        elif mode == "html":
            plain, ents = _parse_html(text)
        elif mode == "markdownv2":
            plain, ents = _parse_markdown_v2(text)
        elif mode == "markdown":
            plain, ents = _parse_markdown(text)
        else:
            raise _ApiError(400, "Bad Request: unsupported parse_mode")
    except _ParseError as exc:
        raise _ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
    return _strip_entities(plain, ents)
