"""Queue triggers' bindings as the host resolves them: the queue name (app setting
references resolved, lower-cased, checked), the connection looked up as the host looks it up,
and a message's body as the worker passes it (base64-decoded when the encoding says so)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from azure.functions.queue import QueueMessage as FuncQueueMessage
from azure.storage.queue import QueueMessage

from .registry import QUEUE_TRIGGER, FunctionSpec
from .settings import HostConfigError, resolve_setting_references

DEFAULT_CONNECTION = "AzureWebJobsStorage"
# Storage's rules for a queue name (after the host lowercases it).
_QUEUE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]\Z")
# Settings that make a connection identity-based instead of a connection string.
_IDENTITY_SUFFIXES = ("__queueServiceUri", "__serviceUri", "__accountName")


@dataclass(frozen=True)
class QueueBinding:
    """A queue function with its queue name and connection string resolved."""

    spec: FunctionSpec
    queue_name: str
    connection_setting: str
    connection_string: str


def resolve_queue_bindings(
    functions: Iterable[FunctionSpec], environ: Mapping[str, str]
) -> list[QueueBinding]:
    """The queue functions' queues and connections; what cannot be resolved stops the host
    (as in Azure: a function whose queue name or connection is not set does not start)."""
    bindings = []
    for spec in functions:
        if spec.trigger_type != QUEUE_TRIGGER:
            continue
        raw = str(getattr(spec.trigger, "queue_name", "") or "")
        if not raw:
            raise HostConfigError(f"function '{spec.name}': its queue trigger has no queue_name")
        name = resolve_setting_references(
            raw, environ, function=spec.name, what="queue_name"
        ).lower()
        if not 3 <= len(name) <= 63 or not _QUEUE_NAME.match(name):
            raise HostConfigError(
                f"function '{spec.name}': '{name}' (from '{raw}') is not a valid queue name "
                "(3-63 lowercase letters, digits and single hyphens)"
            )
        setting, connection = _connection(spec, environ)
        bindings.append(QueueBinding(spec, name, setting, connection))
    return bindings


def _connection(spec: FunctionSpec, environ: Mapping[str, str]) -> tuple[str, str]:
    """(setting name, connection string) as the host looks it up: the name, then
    ``AzureWebJobs<name>``."""
    name = str(getattr(spec.trigger, "connection", None) or DEFAULT_CONNECTION)
    candidates = [name] if name.startswith("AzureWebJobs") else [name, f"AzureWebJobs{name}"]
    for candidate in candidates:
        if environ.get(candidate):
            return candidate, environ[candidate]
    for candidate in candidates:
        identity = [f"{candidate}{suffix}" for suffix in _IDENTITY_SUFFIXES]
        if any(environ.get(setting) for setting in identity):
            raise HostConfigError(
                f"function '{spec.name}': connection '{name}' is identity-based "
                f"({', '.join(identity)}); the local host needs a connection string in "
                f"app setting '{candidate}' (UseDevelopmentStorage=true for Azurite)"
            )
    raise HostConfigError(
        f"function '{spec.name}': its queue trigger's connection '{name}' is not set: app "
        f"setting '{candidates[0]}' (local.settings.json Values or environment) must hold "
        "a Storage connection string"
    )


def decode_body(content: str, encoding: str) -> bytes:
    """The bytes the function gets; ValueError when base64 content is not base64 (white
    space in it is ignored, as .NET's Convert.FromBase64String ignores it)."""
    if encoding == "none":
        return content.encode("utf-8")
    try:
        return base64.b64decode("".join(content.split()), validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"the message is not valid base64 ({error})") from None


def to_function_message(message: QueueMessage, body: bytes) -> FuncQueueMessage:
    """What the Python worker passes for a queue message (the concrete class: the abstract
    ``azure.functions.QueueMessage`` takes no dequeue count)."""
    return FuncQueueMessage(
        id=message.id,
        body=body,
        dequeue_count=message.dequeue_count,
        expiration_time=message.expires_on,
        insertion_time=message.inserted_on,
        time_next_visible=message.next_visible_on,
        pop_receipt=message.pop_receipt,
    )
