"""aiohttp request -> ``func.HttpRequest``; handler result -> aiohttp response.

The conversions follow what the Functions host and the Python worker do, so a handler sees
the same request here as in Azure and its response reaches the client unchanged:

- header names are lower-cased by ``func.HttpRequest``; a header or query parameter that
  is repeated arrives as one value joined with ``,`` (ASP.NET's ``StringValues``);
- route parameters are url-decoded; the body is the raw bytes;
- a ``func.HttpResponse`` keeps its status and every header, repeated ones included
  (two ``Set-Cookie``); without a ``Content-Type`` header, the worker's rule applies:
  ``mimetype; charset=...`` for ``text/*``, the bare mimetype otherwise;
- a returned ``str`` or ``bytes`` is a 200 body, ``None`` a 204.
"""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func
from aiohttp import web
from multidict import CIMultiDict, MultiMapping

__all__ = ["error_response", "join_repeated", "to_func_request", "to_web_response"]

# aiohttp computes these from the body it sends; a handler's values would contradict it.
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding"})


def join_repeated(items: MultiMapping[str]) -> dict[str, str]:
    """One value per name; repeated names joined with ``,`` as the host does."""
    joined: dict[str, str] = {}
    for name, value in items.items():
        if name in joined:
            joined[name] = f"{joined[name]},{value}"
        else:
            joined[name] = value
    return joined


async def to_func_request(
    request: web.BaseRequest, route_params: dict[str, str]
) -> func.HttpRequest:
    return func.HttpRequest(
        method=request.method,
        url=str(request.url),
        headers=join_repeated(request.headers),
        params=join_repeated(request.rel_url.query),
        route_params=route_params,
        body=await request.read(),
    )


def to_web_response(result: Any) -> web.Response:
    """Convert what an HTTP function returned; TypeError for anything else."""
    if isinstance(result, func.HttpResponse):
        headers: CIMultiDict[str] = CIMultiDict()
        for name, value in result.headers.items():
            if name.lower() not in _FRAMING_HEADERS:
                headers.add(name, value)
        if "Content-Type" not in headers:
            mimetype = result.mimetype
            text = mimetype.startswith("text/")
            headers["Content-Type"] = f"{mimetype}; charset={result.charset}" if text else mimetype
        return web.Response(status=result.status_code, body=result.get_body(), headers=headers)
    if isinstance(result, str):
        return web.Response(text=result, content_type="text/plain", charset="utf-8")
    if isinstance(result, bytes | bytearray):
        return web.Response(body=bytes(result), content_type="application/octet-stream")
    if result is None:
        return web.Response(status=204)
    raise TypeError(
        f"an HTTP function must return func.HttpResponse, str, bytes or None, "
        f"not {type(result).__name__}"
    )


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    """A Graph-style error body, the shape the whole API uses for errors."""
    body = json.dumps({"error": {"code": code, "message": message}})
    return web.Response(status=status, text=body, content_type="application/json", headers=headers)
