"""Finding the app's functions the way the Python worker indexes them.

The worker imports ``function_app`` from the app root, takes the module-level
``FunctionApp`` and calls ``get_functions()``; each function's trigger binding says how it
is started and under which parameter name the trigger value is passed. Everything here runs
once at start-up and fails with a message naming the function, so a mistake in a decorator
shows up before the first request, not as a 500 later.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.functions.decorators.function_app import Function, FunctionRegister

from . import keys
from .settings import HostConfigError

__all__ = [
    "HTTP_TRIGGER",
    "QUEUE_TRIGGER",
    "TIMER_TRIGGER",
    "FunctionSpec",
    "discover",
    "import_function_app",
]

logger = logging.getLogger(__name__)

HTTP_TRIGGER = "httpTrigger"
TIMER_TRIGGER = "timerTrigger"
QUEUE_TRIGGER = "queueTrigger"
RUNNABLE_TRIGGERS = (HTTP_TRIGGER, TIMER_TRIGGER, QUEUE_TRIGGER)

# Bindings the host fills in itself: the trigger, the HTTP response returned as $return.
_HANDLED_OUTPUT_TYPES = frozenset({"http"})


@dataclass(frozen=True)
class FunctionSpec:
    """One function as the host runs it."""

    name: str
    trigger_type: str
    trigger: Any  # the decorator's binding object (HttpTrigger, TimerTrigger, ...)
    handler: Callable[..., Any]
    is_async: bool
    trigger_param: str
    context_param: str | None
    directory: str

    @property
    def is_http(self) -> bool:
        return self.trigger_type == HTTP_TRIGGER

    @property
    def route(self) -> str:
        return str(self.trigger.route if self.trigger.route is not None else self.name)

    @property
    def methods(self) -> tuple[str, ...] | None:
        """Declared HTTP methods, upper case; None when the trigger accepts every method."""
        declared = getattr(self.trigger, "methods", None)
        if not declared:
            return None
        return tuple(dict.fromkeys(str(m).upper() for m in declared))

    @property
    def auth_level(self) -> str:
        level = getattr(self.trigger, "auth_level", None)
        return str(level).lower() if level is not None else keys.FUNCTION


def import_function_app(app_dir: Path) -> FunctionRegister:
    """Import ``function_app`` from ``app_dir`` like the worker (app dir first on sys.path)."""
    if not (app_dir / "function_app.py").is_file():
        raise HostConfigError(f"{app_dir}: no function_app.py (is --app-dir the app's root?)")
    path = str(app_dir)
    if path not in sys.path:
        sys.path.insert(0, path)
    module = importlib.import_module("function_app")
    apps = [value for value in vars(module).values() if isinstance(value, FunctionRegister)]
    if len(apps) != 1:
        raise HostConfigError(
            f"{app_dir / 'function_app.py'}: expected one module-level FunctionApp, "
            f"found {len(apps)}"
        )
    return apps[0]


# What the host awaits when it stops, if function_app defines it: the app's chance to close
# the connections it keeps (Azure's worker has no such hook: a process's end closes them).
STOP_HOOK = "on_host_stop"


def stop_hook() -> Callable[[], Awaitable[None]] | None:
    """The imported function_app's ``on_host_stop`` coroutine function, if it has one."""
    hook = getattr(sys.modules.get("function_app"), STOP_HOOK, None)
    return hook if inspect.iscoroutinefunction(hook) else None


def discover(app: FunctionRegister, app_dir: Path) -> list[FunctionSpec]:
    """Every function of ``app``; trigger types this host cannot run are left out, logged."""
    specs = []
    for function in app.get_functions():
        spec = _spec(function, str(app_dir))
        if spec.trigger_type in RUNNABLE_TRIGGERS:
            specs.append(spec)
        else:
            logger.warning(
                "Function '%s' has a %s trigger, which the local host does not run; skipped",
                spec.name,
                spec.trigger_type,
            )
    return specs


def _spec(function: Function, directory: str) -> FunctionSpec:
    name = function.get_function_name() or function.get_user_function().__name__
    trigger = function.get_trigger()
    if trigger is None:
        raise HostConfigError(f"function '{name}' has no trigger")
    handler = function.get_user_function()
    parameters = inspect.signature(handler).parameters
    if trigger.name not in parameters:
        raise HostConfigError(
            f"function '{name}': its {trigger.type} binding is named '{trigger.name}' "
            f"but {handler.__name__}() has no parameter of that name"
        )
    context_param = "context" if "context" in parameters else None
    unfilled = [
        p.name
        for p in parameters.values()
        if p.name not in (trigger.name, context_param)
        and p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    if unfilled:
        bindings = [
            f"{b.type}:{b.name}"
            for b in function.get_bindings()
            if b is not trigger and b.type not in _HANDLED_OUTPUT_TYPES
        ]
        raise HostConfigError(
            f"function '{name}': the local host cannot fill parameter(s) {unfilled} "
            f"(bindings {bindings}); it supports the trigger and a 'context' parameter only"
        )
    return FunctionSpec(
        name=name,
        trigger_type=str(trigger.type),
        trigger=trigger,
        handler=handler,
        is_async=inspect.iscoroutinefunction(handler),
        trigger_param=trigger.name,
        context_param=context_param,
        directory=directory,
    )
