"""The board as HTML: Jinja2 templates beside this file (autoescaped), one stylesheet inline
(allowed by its hash), no script at all, and a strict Content-Security-Policy, so the page
works offline and nothing but the app's own markup can run or load."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import azure.functions as func
from jinja2 import Environment, FileSystemLoader, select_autoescape

from shared.core.time import parse_timestamp
from shared.http.board.strips import strip_svg

_TEMPLATES = Path(__file__).parent / "templates"
BOARD_ROUTE = "board"
ITEM_ROUTE = "board/item"


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["exact"] = _exact
    environment.filters["strip"] = strip_svg
    environment.filters["pretty"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)
    return environment


@cache
def _stylesheet() -> tuple[str, str]:
    """The stylesheet and its CSP hash."""
    css = (_TEMPLATES / "board.css").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    return css, f"'sha256-{digest}'"


def html_response(
    template: str, status: int = 200, *, compress: bool = False, **context: Any
) -> func.HttpResponse:
    """The page, gzipped when the browser takes it (``compress``): a board of thousands of
    rows is mostly repeated markup, a tenth of its size compressed."""
    css, style_hash = _stylesheet()
    page = _environment().get_template(template).render(css=css, **context).encode()
    headers = {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src {style_hash}; form-action 'none'; "
            "base-uri 'none'; frame-ancestors 'none'"
        ),
        "Referrer-Policy": "no-referrer",  # the key may be in the URL: never send it on
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }
    if status == 503:
        headers["Retry-After"] = "30"
    headers["Vary"] = "Accept-Encoding"
    if compress:
        page = gzip.compress(page, compresslevel=6)
        headers["Content-Encoding"] = "gzip"
    return func.HttpResponse(
        page, status_code=status, headers=headers, mimetype="text/html", charset="utf-8"
    )


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


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
