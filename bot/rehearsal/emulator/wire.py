"""The Bot API on the wire: request parameters decoded from a query string, JSON, a form or
multipart data, and answers and errors encoded the way api.telegram.org encodes them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.rehearsal.emulator.records import JSONDict


class _ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


@dataclass(slots=True)
class _Upload:
    filename: str | None
    content_type: str | None
    data: bytes


_Handler = Callable[[JSONDict, dict[str, _Upload]], Any]

# Form values of these parameters are free text; everything else that looks like JSON is JSON,
# because that is how PTB (and the Bot API) encode non-string parameters in forms.
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "callback_query_id",
        "url",
        "secret_token",
        "parse_mode",
        "action",
        "photo",
        "document",
        "file_id",
        "language_code",
        "inline_message_id",
        "business_connection_id",
        "message_effect_id",
        "description",
        "short_description",
        "name",
        "ip_address",
        "emoji",
        "title",
        "address",
        "question",
        "certificate",
        "thumbnail",
        "sticker",
        "animation",
        "audio",
        "video",
        "voice",
        "video_note",
    }
)
_JSON_START = frozenset('{["-0123456789')


def _coerce(key: str, value: Any) -> Any:
    if not isinstance(value, str) or key in _STRING_PARAMS or not value:
        return value
    if value[0] in _JSON_START or value in ("true", "false", "null"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _int_param(params: Mapping[str, Any], key: str) -> int | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _ApiError(400, f"Bad Request: invalid {key} specified")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _ApiError(400, f"Bad Request: invalid {key} specified") from None


def _float_param(params: Mapping[str, Any], key: str) -> float | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _ApiError(400, f"Bad Request: invalid {key} specified") from None


def _str_param(params: Mapping[str, Any], key: str) -> str | None:
    value = params.get(key)
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _truthy(value: Any) -> bool:
    return value is True or value == "true" or value == "True" or value == 1


def _int_param_quiet(params: Mapping[str, Any], key: str) -> int | None:
    try:
        return _int_param(params, key)
    except _ApiError:
        return None


async def _read_params(request: web.Request) -> tuple[JSONDict, dict[str, _Upload]]:
    params: JSONDict = {k: _coerce(k, v) for k, v in request.query.items()}
    files: dict[str, _Upload] = {}
    if not request.can_read_body:
        return params, files
    ctype = request.content_type
    if ctype == "application/json":
        body = json.loads(await request.read() or b"{}")
        if not isinstance(body, dict):
            raise ValueError("JSON body must be an object")
        params.update({k: _coerce(k, v) for k, v in body.items()})
    elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                files[key] = _Upload(value.filename, value.content_type, value.file.read())
            elif isinstance(value, str):
                params[key] = _coerce(key, value)
            else:
                params[key] = _coerce(key, value.decode("utf-8", "replace"))
    return params, files


def _dumps(payload: JSONDict) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def _ok_response(result: Any) -> web.Response:
    return web.Response(
        text=_dumps({"ok": True, "result": result}), content_type="application/json"
    )


def _error_response(
    code: int, description: str, parameters: JSONDict | None = None
) -> web.Response:
    payload: JSONDict = {"ok": False, "error_code": code, "description": description}
    if parameters:
        payload["parameters"] = parameters
    return web.Response(status=code, text=_dumps(payload), content_type="application/json")


def _drop(request: web.Request) -> web.Response:
    # Closing the transport before answering is what a reset connection looks like to the
    # client; the response object returned afterwards is never written.
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=500)
