"""Calling user functions: arguments, sync vs async, logging, singleton runs.

Async handlers run on the host's event loop, sync ones in a thread pool (as the Python
worker does, sized by ``PYTHON_THREADPOOL_THREAD_COUNT``), so a blocking handler never
stalls other requests. Every invocation is logged with Core Tools' wording so that logs
from ``make run`` read like the real thing.

Timer functions run as singletons, as in Azure (a storage lease): a timer tick or admin-API
run that arrives while the same function is still running is skipped and logged instead of
overlapping it. Queue functions are no singletons (their listener bounds how many run at
once), so an admin-API run of one starts whatever else runs. Background runs are tracked so
shutdown can wait for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import azure.functions as func

from .registry import FunctionSpec

__all__ = ["PROGRAMMATIC_REASON", "InvocationContext", "Invoker"]

logger = logging.getLogger(__name__)

PROGRAMMATIC_REASON = "This function was programmatically called via the host APIs."


class InvocationContext(func.Context):
    """The ``context`` argument: the invocation id and names, which is what apps use."""

    def __init__(self, invocation_id: str, function_name: str, function_directory: str) -> None:
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._function_directory = function_directory

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def thread_local_storage(self) -> Any:
        raise NotImplementedError("the local host does not provide thread_local_storage")

    @property
    def trace_context(self) -> Any:
        raise NotImplementedError("the local host does not provide trace_context")

    @property
    def retry_context(self) -> Any:
        raise NotImplementedError("the local host does not provide retry_context")


class Invoker:
    """Runs functions; one instance per host."""

    def __init__(self) -> None:
        threads = os.environ.get("PYTHON_THREADPOOL_THREAD_COUNT")
        self._executor = ThreadPoolExecutor(
            max_workers=int(threads) if threads else None, thread_name_prefix="function"
        )
        self._running: set[str] = set()
        self._threads_busy = 0
        self._threads_lock = threading.Lock()
        self._background: set[asyncio.Task[None]] = set()

    async def invoke(
        self,
        spec: FunctionSpec,
        trigger_value: Any,
        reason: str,
        *,
        log: logging.Logger = logger,
        details: str | None = None,
    ) -> Any:
        """Run one invocation and return its result; exceptions are logged, then re-raised.
        ``log`` takes the lines of a run that succeeded (an HTTP request's go with the access
        log); a failure is always logged here, with its stack trace. ``details`` follows the
        Executing line as "Trigger Details: ...", as the host logs a queue message's."""
        invocation_id = str(uuid.uuid4())
        log.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", spec.name, reason, invocation_id)
        if details:
            log.info("Trigger Details: %s", details)
        kwargs = {spec.trigger_param: trigger_value}
        if spec.context_param is not None:
            kwargs[spec.context_param] = InvocationContext(invocation_id, spec.name, spec.directory)
        started = time.perf_counter()
        try:
            if spec.is_async:
                result = await spec.handler(**kwargs)
            else:
                loop = asyncio.get_running_loop()
                call = functools.partial(self._call_in_thread, spec.handler, kwargs)
                result = await loop.run_in_executor(self._executor, call)
        except Exception:
            logger.exception("Exception while executing function: Functions.%s", spec.name)
            logger.error(
                "Executed 'Functions.%s' (Failed, Id=%s, Duration=%dms)",
                spec.name,
                invocation_id,
                _elapsed_ms(started),
            )
            raise
        log.info(
            "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%dms)",
            spec.name,
            invocation_id,
            _elapsed_ms(started),
        )
        return result

    @property
    def threads_busy(self) -> int:
        """Sync handlers still running in the pool (they cannot be cancelled)."""
        return self._threads_busy

    def _call_in_thread(self, handler: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        with self._threads_lock:
            self._threads_busy += 1
        try:
            return handler(**kwargs)
        finally:
            with self._threads_lock:
                self._threads_busy -= 1

    def is_running(self, name: str) -> bool:
        return name in self._running

    def start_exclusive(
        self, spec: FunctionSpec, trigger_value: Any, reason: str
    ) -> asyncio.Task[None] | None:
        """Start a background run unless one of the same function is in progress (then None)."""
        if spec.name in self._running:
            logger.warning(
                "Function '%s' is already running; this run (%s) is skipped so the two "
                "do not overlap",
                spec.name,
                reason,
            )
            return None
        self._running.add(spec.name)
        task = asyncio.create_task(self._run_quietly(spec, trigger_value, reason))
        self._background.add(task)
        task.add_done_callback(functools.partial(self._finished, spec.name))
        return task

    def start_background(
        self, spec: FunctionSpec, trigger_value: Any, reason: str
    ) -> asyncio.Task[None]:
        """Start a background run whatever else of the function runs (a queue function's)."""
        task = asyncio.create_task(self._run_quietly(spec, trigger_value, reason))
        self.track(task)
        return task

    def track(self, task: asyncio.Task[None]) -> None:
        """Count ``task`` (a queue message's invocation) among the runs shutdown waits for."""
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self, grace: float) -> int:
        """Wait up to ``grace`` s for background runs; cancel async leftovers; count them."""
        pending = set(self._background)
        if pending:
            logger.info("Waiting up to %.0f s for %d running function(s)", grace, len(pending))
            _, pending = await asyncio.wait(pending, timeout=grace)
        for task in pending:
            task.cancel()
        return len(pending)

    def close(self) -> None:
        """Release the thread pool without waiting for threads stuck in user code."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _run_quietly(self, spec: FunctionSpec, trigger_value: Any, reason: str) -> None:
        # invoke() has logged the failure; like Azure, a failed background run is not retried.
        with contextlib.suppress(Exception):
            await self.invoke(spec, trigger_value, reason)

    def _finished(self, name: str, task: asyncio.Task[None]) -> None:
        self._running.discard(name)
        self._background.discard(task)


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
