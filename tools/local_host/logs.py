"""What the host logs of a request: never the raw request line, never a key.

A request it can read is logged as its method and path with the function key redacted from
the query (``GET /api/statuses?code=REDACTED -> 200 (3 ms)``). A request it cannot read (a
request line or header over 8 KiB, bytes that are not HTTP or not UTF-8) is logged as the
kind of failure only: aiohttp's own logging of it (the parser's exception quotes the raw
line, ``?code=`` included) is not used. As a second guard, :class:`RedactKeys` rewrites any
record that still carries ``code=...`` or an ``x-functions-key`` value: it is installed on
aiohttp's loggers by the host, and on the log handlers by the CLI.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from .keys import KEY_HEADER, KEY_QUERY

__all__ = ["ACCESS_LOGGER", "RedactKeys", "RedactingAccessLogger", "install", "redact"]

REDACTED = "REDACTED"
ACCESS_LOGGER = logging.getLogger("tools.local_host.access")
# A response answered for a request the host could not read (logged apart, not accessed).
UNREADABLE = web.ResponseKey("unreadable", bool)
# aiohttp logs here: its server (the parser's errors, quoting the raw line), access, web.
_AIOHTTP_LOGGERS = ("aiohttp.server", "aiohttp.access", "aiohttp.web", "aiohttp.internal")

# ``code=`` anywhere (a query, a quoted raw line, bytes' repr), to the next delimiter; and
# the key header's value, as a raw header line or a repr'd mapping shows it.
_KEY_IN_QUERY = re.compile(rf"(?i)(\b{KEY_QUERY}=)[^&\s'\"\\;#]*")
_KEY_IN_HEADER = re.compile(rf"(?i)({re.escape(KEY_HEADER)}['\"]?\s*[:,]\s*['\"]?)[^\s'\"\\,}}]*")


def redact(text: str) -> str:
    """``text`` with every function key in it replaced by REDACTED."""
    lowered = text.lower()
    if f"{KEY_QUERY}=" not in lowered and KEY_HEADER.lower() not in lowered:
        return text  # the common case, at every log line: no regex needed
    text = _KEY_IN_QUERY.sub(rf"\g<1>{REDACTED}", text)
    return _KEY_IN_HEADER.sub(rf"\g<1>{REDACTED}", text)


def request_target(request: web.BaseRequest) -> str:
    """The request's method and path, its query with the key's value redacted."""
    query = request.rel_url.raw_query_string
    target = f"{request.method} {request.rel_url.raw_path}"
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        shown = [(name, REDACTED if name.lower() == KEY_QUERY else value) for name, value in pairs]
        target += "?" + redact(urlencode(shown, safe="/$,:", errors="surrogateescape"))
    # What is not ASCII (bytes that were not UTF-8 come as surrogates) shown as escapes.
    return target.encode("ascii", "backslashreplace").decode("ascii")


class RedactingAccessLogger(AbstractAccessLogger):
    """aiohttp's access log, as the host writes it: method, path, redacted query, status."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if response.get(UNREADABLE):
            return  # logged when it was refused, without the request
        self.logger.info(
            "%s -> %d (%.0f ms)", request_target(request), response.status, time * 1000
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


class RedactKeys(logging.Filter):
    """Rewrites a record whose message, arguments or traceback carry a function key."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        text = record.exc_text
        if record.exc_info and not text:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if text and redact(text) != text:
            record.exc_text = redact(text)
            record.exc_info = None  # the cleaned text stands in for it
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactKeys()


def install(*targets: Any) -> None:
    """Put the filter on aiohttp's loggers and on ``targets`` (loggers or handlers), once."""
    for target in (*(logging.getLogger(name) for name in _AIOHTTP_LOGGERS), *targets):
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)
