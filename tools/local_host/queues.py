"""Queue triggers: a listener per queue function, with the Storage extension's semantics.

The app scales its work out through queues, so the local host has to run them as Azure
does, or a test of the app's retries would test something else: each listener polls its
queue (fast while it finds messages, backing off exponentially from 100 ms up to
``maxPollingInterval`` while it is empty), runs up to ``batchSize + newBatchThreshold``
invocations at once (a new batch is fetched when the count in flight drops to the
threshold), deletes a message its function took, and on a failure makes it visible again
after ``visibilityTimeout``, or moves it to ``<queue>-poison`` once it has been dequeued
``maxDequeueCount`` times. A body that is not base64 (with base64 encoding) goes to poison
at once, as the host cannot bind it.

A received message is hidden for a processing lease, renewed at half of it while its
invocation runs, as the host does with its fixed 10 minutes. Here the lease is a CLI option
(``--queue-lease``) so that a test can kill a host and see its messages reappear within
seconds. Several host processes on one Storage account compete for messages, which stands in
for several instances. A message whose invocation is cancelled at shutdown is left alone: it
reappears when its lease ends, as after a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Iterable
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.queue import QueueMessage
from azure.storage.queue.aio import QueueClient, QueueServiceClient

from .invoker import Invoker
from .queue_bindings import QueueBinding, decode_body, to_function_message
from .settings import HostConfigError, QueueOptions

__all__ = ["DEFAULT_LEASE_SECONDS", "POISON_SUFFIX", "QueueListeners"]

logger = logging.getLogger(__name__)

# The host hides a message it works on for 10 minutes, renewed while the function runs.
DEFAULT_LEASE_SECONDS = 600
POISON_SUFFIX = "-poison"
MIN_BACKOFF_SECONDS = 0.1


class QueueListeners:
    """One polling task per queue function, started and stopped with the host. Invocations
    are tracked by the invoker, so the host's shutdown grace covers them."""

    def __init__(
        self,
        invoker: Invoker,
        bindings: Iterable[QueueBinding],
        options: QueueOptions,
        *,
        lease: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        if lease < 2:
            raise HostConfigError(f"the queue lease must be at least 2 s, not {lease:g}")
        self._invoker = invoker
        self._options = options
        self._lease = lease
        self._bindings = list(bindings)
        self._services: dict[str, QueueServiceClient] = {}
        for binding in self._bindings:
            if binding.connection_string not in self._services:
                try:
                    service = QueueServiceClient.from_connection_string(binding.connection_string)
                except ValueError as error:
                    raise HostConfigError(
                        f"function '{binding.spec.name}': app setting "
                        f"'{binding.connection_setting}' is not a Storage connection string "
                        f"({error})"
                    ) from None
                self._services[binding.connection_string] = service
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._listeners: list[_Listener] = []

    def start(self) -> None:
        self._stopping.clear()
        for binding in self._bindings:
            listener = _Listener(self, binding)
            self._listeners.append(listener)
            options = self._options
            logger.info(
                "Function '%s': listening on queue '%s' (batchSize %d, newBatchThreshold %d, "
                "maxDequeueCount %d, messageEncoding %s, lease %g s)",
                binding.spec.name, binding.queue_name, options.batch_size,
                options.new_batch_threshold, options.max_dequeue_count,
                options.message_encoding, self._lease,
            )  # fmt: skip
            self._tasks.append(asyncio.create_task(listener.run()))

    async def stop(self) -> None:
        """Stop polling; invocations in progress go on (the invoker drains them)."""
        self._stopping.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def close(self) -> None:
        """After the drain: let cancelled invocations unwind, then close the clients."""
        running = [task for listener in self._listeners for task in listener.in_flight]
        if running:
            await asyncio.wait(running, timeout=2.0)
        for service in self._services.values():
            with contextlib.suppress(Exception):
                await service.close()
        self._services.clear()

    def running(self, name: str) -> int:
        """How many invocations of the queue function ``name`` are in flight."""
        return sum(len(x.in_flight) for x in self._listeners if x.binding.spec.name == name)


class _Listener:
    """The poll loop and the message handling of one queue function."""

    def __init__(self, owner: QueueListeners, binding: QueueBinding) -> None:
        self.binding = binding
        self.in_flight: set[asyncio.Task[None]] = set()
        self._owner = owner
        self._options = owner._options
        self._lease = owner._lease
        service = owner._services[binding.connection_string]
        self._queue: QueueClient = service.get_queue_client(binding.queue_name)
        self._poison: QueueClient = service.get_queue_client(binding.queue_name + POISON_SUFFIX)
        self._poison_ready = False
        self._reason = f"New queue message detected on '{binding.queue_name}'."

    async def run(self) -> None:
        try:
            await self._poll()
        except Exception:  # a bug here must not end the polling unnoticed
            logger.exception("The queue listener of function '%s' stopped", self.binding.spec.name)

    async def _poll(self) -> None:
        stopping = self._owner._stopping
        options = self._options
        backoff = MIN_BACKOFF_SECONDS
        ready = False
        while not stopping.is_set():
            if len(self.in_flight) > options.new_batch_threshold:
                await self._wait_for_room(stopping)
                continue
            try:
                if not ready:
                    await _create(self._queue)
                    ready = True
                messages = await self._receive(options.batch_size)
            except AzureError as error:
                logger.warning(
                    "Function '%s': queue '%s' is unavailable (%s); trying again",
                    self.binding.spec.name,
                    self.binding.queue_name,
                    _brief(error),
                )
                messages = None
            if stopping.is_set():
                await self._release(messages or [])
                break
            if messages:
                for message in messages:
                    self._start(message)
                backoff = MIN_BACKOFF_SECONDS
                delay = MIN_BACKOFF_SECONDS
            else:
                backoff = min(backoff * 2, options.max_polling_interval)
                delay = backoff * random.uniform(0.8, 1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)

    async def _wait_for_room(self, stopping: asyncio.Event) -> None:
        stop = asyncio.create_task(stopping.wait())
        try:
            await asyncio.wait({stop, *self.in_flight}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()

    async def _receive(self, count: int) -> list[QueueMessage]:
        """One request for up to ``count`` messages (the pager would ask again when fewer
        come), each hidden for the lease."""
        pages = self._queue.receive_messages(
            messages_per_page=count, visibility_timeout=int(self._lease)
        ).by_page()
        try:
            page = await anext(pages)
        except StopAsyncIteration:
            return []
        return [message async for message in page]

    async def _release(self, messages: list[QueueMessage]) -> None:
        """Received while stopping: made visible again at once rather than after the lease."""
        for message in messages:
            with contextlib.suppress(AzureError):
                await self._queue.update_message(
                    message, content=message.content, visibility_timeout=0
                )

    def _start(self, message: QueueMessage) -> None:
        task = asyncio.create_task(self._process(message))
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)
        self._owner._invoker.track(task)

    async def _process(self, message: QueueMessage) -> None:
        spec = self.binding.spec
        name = spec.name
        options = self._options
        if (message.dequeue_count or 0) > options.max_dequeue_count:
            # Dequeued more often than allowed without a verdict (hosts killed on it).
            self._log_poison()
            await self._to_poison(message)
            return
        try:
            body = decode_body(message.content or "", options.message_encoding)
        except ValueError as error:
            logger.error(
                "Function '%s': message %s cannot be bound (%s); moving it to queue '%s'",
                name, message.id, error, self.binding.queue_name + POISON_SUFFIX,
            )  # fmt: skip
            await self._to_poison(message)
            return
        done = asyncio.Event()
        renewal = asyncio.create_task(self._renew(message, done))
        succeeded = False
        inserted = message.inserted_on.isoformat() if message.inserted_on else ""
        details = f"MessageId: {message.id}, DequeueCount: {message.dequeue_count}, " + (
            f"InsertedOn: {inserted}"
        )
        try:
            with contextlib.suppress(Exception):  # a failure is logged by the invoker
                await self._owner._invoker.invoke(
                    spec, to_function_message(message, body), self._reason, details=details
                )
                succeeded = True
        finally:
            # Cancelled (shutdown): no more renewals, so the message reappears after its lease.
            done.set()
            await renewal
        try:
            if succeeded:
                await self._queue.delete_message(message)
            elif (message.dequeue_count or 0) >= options.max_dequeue_count:
                self._log_poison()
                await self._to_poison(message)
            else:
                await self._queue.update_message(
                    message,
                    content=message.content,
                    visibility_timeout=round(options.visibility_timeout),
                )
        except ResourceNotFoundError:
            logger.warning(
                "Function '%s': message %s was no longer ours (its lease ran out?)",
                name,
                message.id,
            )
        except AzureError as error:
            logger.warning(
                "Function '%s': could not settle message %s (%s); it reappears after its lease",
                name,
                message.id,
                _brief(error),
            )

    async def _renew(self, message: QueueMessage, done: asyncio.Event) -> None:
        """Keep the message hidden while its invocation runs: every half lease."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), self._lease / 2)
                return
            try:
                updated = await self._queue.update_message(
                    message, content=message.content, visibility_timeout=int(self._lease)
                )
            except AzureError as error:
                logger.warning(
                    "Function '%s': could not renew the lease of message %s (%s)",
                    self.binding.spec.name,
                    message.id,
                    _brief(error),
                )
                continue
            message.pop_receipt = updated.pop_receipt
            message.next_visible_on = updated.next_visible_on

    def _log_poison(self) -> None:
        """The host's words for it."""
        logger.warning(
            "Message has reached MaxDequeueCount of %d. Moving message to queue '%s'.",
            self._options.max_dequeue_count,
            self.binding.queue_name + POISON_SUFFIX,
        )

    async def _to_poison(self, message: QueueMessage) -> None:
        """A copy (its text as it came) on the poison queue, created if missing; the
        original deleted."""
        poison = self.binding.queue_name + POISON_SUFFIX
        try:
            if not self._poison_ready:
                await _create(self._poison)
                self._poison_ready = True
            await self._poison.send_message(message.content)
            await self._queue.delete_message(message)
        except AzureError as error:
            logger.warning(
                "Could not move message %s to '%s' (%s)", message.id, poison, _brief(error)
            )


async def _create(queue: QueueClient) -> None:
    with contextlib.suppress(ResourceExistsError):
        await queue.create_queue()


def _brief(error: Any) -> str:
    text = str(error).splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"
