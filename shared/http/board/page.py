"""The board as HTML: Jinja2 templates beside this file (autoescaped, foreign text isolated and
cleaned of control characters: ``text``), one stylesheet inline (allowed by its hash), no
script at all, and a strict Content-Security-Policy, so the page works offline and nothing
but the app's own markup can run or load. Rendering is thread-safe: the board renders in
worker threads, off the event loop."""

from __future__ import annotations

import base64
import gzip
import hashlib
import logging
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import azure.functions as func
from jinja2 import Environment, FileSystemLoader, select_autoescape

from shared.core.errors import (
    DomainError,
    NotFoundError,
    SettingsError,
    StorageUnavailableError,
)
from shared.core.time import parse_timestamp
from shared.http.board.access import Refusal
from shared.http.board.strips import strip_svg
from shared.http.board.text import bdi, document_json, finalize, fsi
from shared.http.errors import retry_later_headers

logger = logging.getLogger(__name__)

_TEMPLATES = Path(__file__).parent / "templates"
BOARD_ROUTE = "board"
ITEM_ROUTE = "board/item"
INCIDENT_ROUTE = "board/incident"


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=finalize,  # control characters dropped from whatever is printed
    )
    environment.filters["exact"] = _exact
    environment.filters["strip"] = strip_svg
    environment.filters["pretty"] = document_json
    environment.filters["bdi"] = bdi
    environment.filters["fsi"] = fsi
    return environment


@cache
def _stylesheet() -> tuple[str, str]:
    """The stylesheet and its CSP hash."""
    css = (_TEMPLATES / "board.css").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    return css, f"'sha256-{digest}'"


def render(template: str, **context: Any) -> bytes:
    """A page as UTF-8 HTML."""
    css, _hash = _stylesheet()
    return _environment().get_template(template).render(css=css, **context).encode()


def html_response(
    template: str,
    status: int = 200,
    *,
    compress: bool = False,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> func.HttpResponse:
    """The page, gzipped when the browser takes it (``compress``): a board of thousands of
    rows is mostly repeated markup, a tenth of its size compressed."""
    page = render(template, **context)
    if compress:
        page = gzip.compress(page, compresslevel=6)
    return page_response(page, status, gzipped=compress, headers=headers)


def page_response(
    body: bytes,
    status: int = 200,
    *,
    gzipped: bool = False,
    etag: str | None = None,
    headers: dict[str, str] | None = None,
) -> func.HttpResponse:
    """A page's answer with the board's headers; one with an ETag may be kept by the browser
    (privately) and asked for again with If-None-Match, one without is never kept."""
    _css, style_hash = _stylesheet()
    given = headers or {}
    headers = {
        "Content-Security-Policy": (
            # Forms post to the app itself only (a job's actions, an incident's).
            f"default-src 'none'; style-src {style_hash}; form-action 'self'; "
            "base-uri 'none'; frame-ancestors 'none'"
        ),
        "Referrer-Policy": "no-referrer",  # the key may be in the URL: never send it on
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-cache" if etag else "no-store",
        "Vary": "Accept-Encoding",
    }
    if etag:
        headers["ETag"] = etag
    if status == 503:
        headers.update(retry_later_headers())  # the one place Retry-After is written
    headers.update(given)  # a wait the error itself set (Graph's, a cooldown's) wins
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return func.HttpResponse(
        body, status_code=status, headers=headers, mimetype="text/html", charset="utf-8"
    )


def failure_page(error: Exception) -> func.HttpResponse:
    """A failure as an HTML page: bad input 400, not found 404, not configured or storage
    down 503 (with Retry-After), anything else logged and answered 500 without its trace."""
    if isinstance(error, SettingsError):
        refusal = Refusal(503, "The app is not configured", error.message)
    elif isinstance(error, StorageUnavailableError):
        refusal = Refusal(
            503, "Storage is unavailable", "Table Storage did not answer; try again soon."
        )
    elif isinstance(error, NotFoundError):
        refusal = Refusal(404, "Not found", error.message)
    elif isinstance(error, DomainError):
        refusal = Refusal(400, "That request cannot be shown", error.message)
    else:
        logger.error("Unhandled error on the board", exc_info=error)
        refusal = Refusal(
            500, "Something went wrong", "An unexpected error occurred; it was logged."
        )
    return refusal_page(refusal)


def refusal_page(
    refusal: Refusal, *, back: str | None = None, back_label: str = "Back to the item",
    headers: dict[str, str] | None = None,
) -> func.HttpResponse:  # fmt: skip
    """Why a page is not shown (or an action not done), with a way back."""
    return html_response("denied.html", refusal.status, headers=headers, refusal=refusal,
                         back=back, back_label=back_label)  # fmt: skip


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether If-None-Match names ``etag`` (compared weakly, as RFC 9110 says) or is ``*``."""
    tags = {tag.strip().removeprefix("W/") for tag in (if_none_match or "").split(",")}
    return "*" in tags or etag.removeprefix("W/") in tags


def takes_gzip(accept_encoding: str | None) -> bool:
    """Whether a request's Accept-Encoding takes gzip (not refused with q=0)."""
    for part in (accept_encoding or "").lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def link(route: str, key: str | None, **query: str | None) -> str:
    """A link to a board page under /api, keeping the key (the only place it goes)."""
    params = {name: value for name, value in query.items() if value}
    if key:
        params["code"] = key
    return f"/api/{route}" + (f"?{urlencode(params)}" if params else "")


def _exact(moment: str | None) -> str:
    if not moment:
        return ""
    try:
        return parse_timestamp(moment).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return moment


def now_text(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
