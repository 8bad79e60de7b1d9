"""Storage Queues: how the app puts work on the queues its queue triggers read (a round's
polls, one message per tenant; deliveries, one per receiver with events waiting), and the
messages' shapes.

A message is a JSON document, base64-encoded as the Functions host expects
(``extensions.queues.messageEncoding``: base64, its default). A queue is created on first
use, as the host creates those it listens on. Outages are ``StorageUnavailableError``, as
for the tables.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any, Literal

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.queue.aio import QueueClient, QueueServiceClient
from pydantic import BaseModel, ConfigDict

from shared.core.errors import SettingsError, StorageUnavailableError
from shared.settings import Settings
from shared.storage.tables import CLIENT_OPTIONS, storage_credential

logger = logging.getLogger(__name__)

# A Storage queue message holds 64 KiB (base64 counts): the app's are a few hundred bytes.
MAX_MESSAGE_BYTES = 64 * 1024
# Messages hidden longer than this are not accepted by the service (7 days).
MAX_DELAY_SECONDS = 7 * 24 * 3600 - 1


class PollOrder(BaseModel):
    """A poll message: which tenant, in which round, the how-manieth try after throttling."""

    model_config = ConfigDict(extra="ignore")

    kind: Literal["poll"] = "poll"
    tenantId: str
    roundId: str
    attempt: int = 1


class DeliveryOrder(BaseModel):
    """A delivery message: the receiver (an outbox target) whose waiting events to POST."""

    model_config = ConfigDict(extra="ignore")

    kind: Literal["delivery"] = "delivery"
    target: str


@dataclass(frozen=True)
class QueueDelivery:
    """A message as a queue trigger got it: its id (the same on every delivery), which
    delivery this is, and its body (base64-decoded by the host)."""

    message_id: str
    dequeue_count: int
    body: bytes


def encode_message(document: dict[str, Any]) -> str:
    """A message's text as the host reads it: the JSON document, base64-encoded."""
    text = base64.b64encode(json.dumps(document, separators=(",", ":")).encode()).decode()
    if len(text) > MAX_MESSAGE_BYTES:
        raise ValueError(f"a queue message holds {MAX_MESSAGE_BYTES} bytes; this is {len(text)}")
    return text


class QueueService:
    """The app's queues over one connection pool (one instance per event loop)."""

    def __init__(self, service: QueueServiceClient) -> None:
        self._service = service
        self._clients: dict[str, QueueClient] = {}
        self._created: set[str] = set()
        self._creating = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> QueueService:
        storage = settings.storage
        options = CLIENT_OPTIONS
        if storage.connection_string:
            try:
                service = QueueServiceClient.from_connection_string(
                    storage.connection_string, **options
                )
            except ValueError:
                raise SettingsError(
                    "AzureWebJobsStorage is not a storage connection string."
                ) from None
        elif storage.queue_service_uri:
            credential = storage_credential(settings)
            service = QueueServiceClient(
                storage.queue_service_uri, credential=credential, **options
            )
        else:
            raise SettingsError(
                "AzureWebJobsStorage names no queue endpoint: give a connection string, or "
                "AzureWebJobsStorage__queueServiceUri (or __accountName) for an identity-based "
                "connection."
            )
        return cls(service)

    async def send(self, queue: str, document: dict[str, Any], *, delay_seconds: float = 0) -> None:
        """Put one message on ``queue``, hidden for ``delay_seconds`` (whole seconds)."""
        text = encode_message(document)
        delay = max(0, min(int(delay_seconds), MAX_DELAY_SECONDS))
        client = await self._queue(queue)
        async with _calls(queue):
            await client.send_message(text, visibility_timeout=delay or None)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        await self._service.close()

    async def _queue(self, name: str) -> QueueClient:
        if name not in self._clients:
            self._clients[name] = self._service.get_queue_client(name)
        client = self._clients[name]
        if name not in self._created:
            async with self._creating:
                if name not in self._created:
                    async with _calls(name):
                        with suppress(ResourceExistsError):
                            await client.create_queue()
                    self._created.add(name)
        return client


@asynccontextmanager
async def _calls(queue: str) -> AsyncIterator[None]:
    """Storage's outages and refusals as StorageUnavailableError (the caller's message is
    then not sent: the round, or the next poll, makes it again)."""
    try:
        yield
    except (ServiceRequestError, ServiceResponseError, ClientAuthenticationError) as error:
        raise StorageUnavailableError(f"Queue storage is unreachable ({queue}).") from error
    except HttpResponseError as error:
        # A server error, throttling, or no access: nothing the caller can fix.
        logger.warning("Queue %s refused a call: %s", queue, error.reason)
        raise StorageUnavailableError(f"Queue storage refused the call ({queue}).") from error
    except AzureError as error:
        raise StorageUnavailableError(f"Queue storage failed ({queue}).") from error
