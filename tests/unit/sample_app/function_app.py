"""A small v2-model app that exercises what the local host must support.

Real functions, not mocks: the unit tests of ``tools.local_host`` serve this app and call
it over HTTP. Module-level ``TICKS`` records timer runs so tests can see them, and
``TICK_SECONDS`` makes a run last long enough to overlap the next one.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

TICKS: list[bool] = []
TICK_SECONDS = 0.0


def _json(document: object, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(document), status_code=status, mimetype="application/json")


@app.route(
    route="echo/{*rest}", methods=["GET", "POST", "PUT"], auth_level=func.AuthLevel.ANONYMOUS
)
def echo(req: func.HttpRequest) -> func.HttpResponse:
    """Everything the host put into the request, for the conversion tests."""
    return _json(
        {
            "method": req.method,
            "url": req.url,
            "headers": dict(req.headers),
            "params": dict(req.params),
            "route_params": dict(req.route_params),
            "body": base64.b64encode(req.get_body()).decode(),
        }
    )


@app.route(route="items/{id:int}", methods=["GET", "DELETE"])
def get_item(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"id": int(req.route_params["id"])})


@app.route(route="items/new", methods=["GET"])
def new_item(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"new": True})


@app.route(route="things/{id:guid}/{part:alpha?}", auth_level=func.AuthLevel.ANONYMOUS)
def thing(req: func.HttpRequest) -> func.HttpResponse:
    return _json(dict(req.route_params))


@app.route(route="cookies", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def cookies(req: func.HttpRequest) -> func.HttpResponse:
    response = func.HttpResponse(
        "<p>créé</p>", status_code=201, mimetype="text/html", charset="iso-8859-1"
    )
    response.headers.add("Set-Cookie", "a=1; Path=/")
    response.headers.add("Set-Cookie", "b=2; Path=/")
    response.headers["X-Custom"] = "yes"
    return response


@app.route(route="plain", auth_level=func.AuthLevel.ANONYMOUS)
def plain(req: func.HttpRequest) -> str:
    return "just text"


@app.route(route="boom", auth_level=func.AuthLevel.ANONYMOUS)
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("secret detail that must not leak")


@app.route(route="admin-only", methods=["GET"], auth_level=func.AuthLevel.ADMIN)
def admin_only(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"admin": True})


@app.function_name("whoami")
@app.route(methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def who_am_i(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    """Async, default route (the function name), with a context parameter."""
    await asyncio.sleep(0)
    return _json(
        {
            "function_name": context.function_name,
            "invocation_id": context.invocation_id,
            "function_directory": context.function_directory,
        }
    )


@app.timer_trigger(schedule="%SAMPLE_SCHEDULE%", arg_name="timer", run_on_startup=False)
def tick(timer: func.TimerRequest) -> None:
    TICKS.append(timer.past_due)
    time.sleep(TICK_SECONDS)
