"""Entry point of the Azure Functions app (Python v2 programming model).

It only builds the FunctionApp and registers the blueprints in ``functions/``; every piece
of logic lives in the ``shared`` package so that it can be tested without a host.
"""

from __future__ import annotations

import azure.functions as func

from functions.http_api import bp as http_api
from functions.poller import bp as poller
from shared import composition

# FUNCTION is the default for every HTTP route; /api/health opts out explicitly.
app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(poller)
app.register_functions(http_api)


async def on_host_stop() -> None:
    """Close the store's connections when the bundled local host stops (Azure's worker has
    no such hook: there, the process's end closes them)."""
    await composition.close()
