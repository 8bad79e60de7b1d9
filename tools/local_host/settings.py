"""Host configuration: local.settings.json, host.json and the environment.

Core Tools copies ``local.settings.json`` ``Values`` into the worker's environment before
the app is imported, without overwriting variables that are already set, so that a shell
``export GRAPH_BASE_URL=...`` wins over the file. The app reads its settings from
``os.environ`` only, so doing the same here keeps the app unaware of which host runs it.

host.json's ``extensions.queues`` options are read with the Storage extension's defaults and
limits, and an app setting ``AzureFunctionsJobHost__extensions__queues__<option>`` wins over
the file, as the host documents for overriding host.json values: a slot or a test can change
them without editing host.json. Keys are matched without regard to case, as the host does.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .keys import Keys

__all__ = [
    "DEFAULT_PORT",
    "HostConfig",
    "HostConfigError",
    "LocalSettings",
    "QueueOptions",
    "apply_values",
    "keys_from",
    "load_config",
    "read_local_settings",
    "read_queue_options",
    "read_route_prefix",
    "resolve_port",
    "resolve_setting_references",
]

logger = logging.getLogger(__name__)

DEFAULT_PORT = 7071
MASTER_KEY_SETTING = "FUNCTIONS_MASTER_KEY"
FUNCTION_KEY_SETTING = "FUNCTIONS_FUNCTION_KEY"
PORT_SETTING = "FUNCTIONS_PORT"


class HostConfigError(Exception):
    """Configuration the host cannot start with; the message names the file or setting."""


@dataclass(frozen=True)
class LocalSettings:
    """What the host uses from local.settings.json."""

    values: dict[str, str]
    local_http_port: int | None


# The Functions host takes request bodies up to 100 MB unless this app setting says less.
BODY_LIMIT_SETTING = "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"
DEFAULT_BODY_LIMIT = 100 * 1024 * 1024


@dataclass(frozen=True)
class QueueOptions:
    """host.json ``extensions.queues``, in seconds, with the Storage extension's defaults.

    ``new_batch_threshold`` defaults to half the batch size, as on a one-core instance
    (Azure multiplies it by the cores on dedicated plans).
    """

    max_polling_interval: float = 60.0
    visibility_timeout: float = 0.0
    batch_size: int = 16
    new_batch_threshold: int = 8
    max_dequeue_count: int = 5
    message_encoding: str = "base64"  # or "none"


@dataclass(frozen=True)
class HostConfig:
    """Everything the server needs besides the functions themselves."""

    app_dir: Path
    route_prefix: str
    keys: Keys
    max_body_bytes: int = DEFAULT_BODY_LIMIT
    queues: QueueOptions = field(default_factory=QueueOptions)


def read_local_settings(path: Path) -> LocalSettings:
    """Parse local.settings.json; a missing file is an empty one, as with Core Tools."""
    if not path.is_file():
        return LocalSettings({}, None)
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as error:
        raise HostConfigError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise HostConfigError(f"{path}: expected a JSON object")
    values = document.get("Values") or {}
    if not isinstance(values, dict):
        raise HostConfigError(f"{path}: 'Values' must be an object of strings")
    host = document.get("Host") or {}
    port = host.get("LocalHttpPort") if isinstance(host, dict) else None
    return LocalSettings(
        values={str(name): _as_setting(value) for name, value in values.items()},
        local_http_port=_as_port(port, f"{path}: Host.LocalHttpPort") if port is not None else None,
    )


def apply_values(values: dict[str, str], environ: MutableMapping[str, str]) -> list[str]:
    """Copy settings into ``environ`` unless already set there; return the names copied."""
    applied = [name for name in values if name not in environ]
    for name in applied:
        environ[name] = values[name]
    return applied


def read_route_prefix(host_json: Path) -> str:
    """``extensions.http.routePrefix`` from host.json; "api" when absent, "" allowed."""
    if not host_json.is_file():
        return "api"
    try:
        document = json.loads(host_json.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as error:
        raise HostConfigError(f"{host_json}: not valid JSON ({error})") from None
    http = document.get("extensions", {}).get("http", {}) if isinstance(document, dict) else {}
    prefix = http.get("routePrefix", "api") if isinstance(http, dict) else "api"
    if not isinstance(prefix, str):
        raise HostConfigError(f"{host_json}: extensions.http.routePrefix must be a string")
    return prefix.strip("/")


# The Storage extension's limits: a batch is at most 32 messages (what one request gets).
MAX_BATCH_SIZE = 32
MIN_POLLING_INTERVAL = 0.1
QUEUE_OVERRIDE_PREFIX = "AzureFunctionsJobHost__extensions__queues__"
_QUEUE_OPTIONS = (
    "maxPollingInterval",
    "visibilityTimeout",
    "batchSize",
    "newBatchThreshold",
    "maxDequeueCount",
    "messageEncoding",
)
_TIMESPAN = re.compile(r"(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?\Z")
_REFERENCE = re.compile(r"%([^%]*)%")


def read_queue_options(host_json: Path, environ: Mapping[str, str]) -> QueueOptions:
    """``extensions.queues`` from host.json, app-setting overrides winning; Azure's defaults
    for what neither sets. Values out of the host's range stop the host, as in Azure."""
    queues = _section(_host_document(host_json), "extensions", "queues")
    raw = _lowered(queues)
    overrides = {
        name[len(QUEUE_OVERRIDE_PREFIX) :].lower(): value
        for name, value in environ.items()
        if name.lower().startswith(QUEUE_OVERRIDE_PREFIX.lower())
    }
    raw |= overrides

    def where(option: str) -> str:
        if option.lower() in overrides:
            return f"app setting {QUEUE_OVERRIDE_PREFIX}{option}"
        return f"{host_json}: extensions.queues.{option}"

    defaults = QueueOptions()
    known = {option.lower(): option for option in _QUEUE_OPTIONS}
    for unknown in sorted(set(raw) - set(known)):
        logger.warning("extensions.queues.%s is not an option the local host knows", unknown)
    values = {known[name]: value for name, value in raw.items() if name in known}

    def seconds(option: str, default: float, minimum: float) -> float:
        if option not in values:
            return default
        parsed = _timespan(values[option], where(option))
        if parsed < minimum:
            raise HostConfigError(f"{where(option)}: must be at least {minimum:g} s")
        return parsed

    def number(option: str, default: int, minimum: int, maximum: int | None = None) -> int:
        if option not in values:
            return default
        value = values[option]
        if isinstance(value, bool) or not str(value).strip().lstrip("-").isdigit():
            raise HostConfigError(f"{where(option)}: {value!r} is not a whole number")
        parsed = int(str(value).strip())
        if parsed < minimum or (maximum is not None and parsed > maximum):
            bound = f"{minimum} to {maximum}" if maximum is not None else f"{minimum} or more"
            raise HostConfigError(f"{where(option)}: {parsed} is out of range ({bound})")
        return parsed

    batch_size = number("batchSize", defaults.batch_size, 1, MAX_BATCH_SIZE)
    encoding = str(values.get("messageEncoding", defaults.message_encoding)).strip().lower()
    if encoding not in ("base64", "none"):
        raise HostConfigError(f"{where('messageEncoding')}: {encoding!r} is not base64 or none")
    return QueueOptions(
        max_polling_interval=seconds(
            "maxPollingInterval", defaults.max_polling_interval, MIN_POLLING_INTERVAL
        ),
        visibility_timeout=seconds("visibilityTimeout", defaults.visibility_timeout, 0.0),
        batch_size=batch_size,
        new_batch_threshold=number("newBatchThreshold", batch_size // 2, 0),
        max_dequeue_count=number("maxDequeueCount", defaults.max_dequeue_count, 1),
        message_encoding=encoding,
    )


def resolve_setting_references(
    text: str, environ: Mapping[str, str], *, function: str, what: str
) -> str:
    """``text`` with each ``%SETTING%`` replaced by that app setting's value, as the host
    resolves binding expressions; a setting that is not set stops the host, naming the
    function, the expression and the setting (``what`` says which property it was in)."""

    def value(reference: re.Match[str]) -> str:
        name = reference.group(1)
        resolved = environ.get(name) if name else None
        if not resolved:
            raise HostConfigError(
                f"function '{function}': its {what} '{text}' refers to app setting "
                f"'{name}', which is not set (local.settings.json Values or environment)"
            )
        return resolved

    return _REFERENCE.sub(value, text)


def _timespan(value: Any, where: str) -> float:
    """A .NET TimeSpan as host.json writes it (``[d.]hh:mm[:ss[.fffffff]]``), in seconds."""
    match = _TIMESPAN.match(str(value).strip()) if isinstance(value, str) else None
    if match is None:
        raise HostConfigError(f"{where}: {value!r} is not a TimeSpan like '00:01:00'")
    days, hours, minutes, secs, fraction = match.groups()
    if int(hours) > 23 or int(minutes) > 59 or int(secs or 0) > 59:
        raise HostConfigError(f"{where}: {value!r} is not a TimeSpan like '00:01:00'")
    total = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + int(secs or 0)
    return total + (float(f"0.{fraction}") if fraction else 0.0)


def _host_document(host_json: Path) -> dict[str, Any]:
    if not host_json.is_file():
        return {}
    try:
        document = json.loads(host_json.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as error:
        raise HostConfigError(f"{host_json}: not valid JSON ({error})") from None
    return document if isinstance(document, dict) else {}


def _lowered(section: dict[str, Any]) -> dict[str, Any]:
    return {str(name).lower(): value for name, value in section.items()}


def _section(document: dict[str, Any], *path: str) -> dict[str, Any]:
    """A nested object of host.json, its keys matched without regard to case."""
    current: Any = document
    for name in path:
        current = _lowered(current).get(name.lower()) if isinstance(current, dict) else None
    return current if isinstance(current, dict) else {}


def resolve_port(
    cli_port: int | None, environ: MutableMapping[str, str], local: LocalSettings
) -> int:
    """--port, else FUNCTIONS_PORT, else Host.LocalHttpPort, else 7071."""
    if cli_port is not None:
        return cli_port
    if environ.get(PORT_SETTING):
        return _as_port(environ[PORT_SETTING], PORT_SETTING)
    if local.local_http_port is not None:
        return local.local_http_port
    return DEFAULT_PORT


def keys_from(environ: MutableMapping[str, str]) -> Keys:
    """The keys come from app settings, so local.settings.json or the environment."""
    return Keys(
        master=environ.get(MASTER_KEY_SETTING) or None,
        function=environ.get(FUNCTION_KEY_SETTING) or None,
    )


def load_config(app_dir: Path, environ: MutableMapping[str, str] | None = None) -> HostConfig:
    """Read host.json and the keys; call after :func:`apply_values` so the file counts."""
    env = os.environ if environ is None else environ
    return HostConfig(
        app_dir=app_dir,
        route_prefix=read_route_prefix(app_dir / "host.json"),
        keys=keys_from(env),
        max_body_bytes=_body_limit(env.get(BODY_LIMIT_SETTING)),
        queues=read_queue_options(app_dir / "host.json", env),
    )


def _body_limit(value: str | None) -> int:
    if not value:
        return DEFAULT_BODY_LIMIT
    try:
        limit = int(value)
    except ValueError:
        limit = -1
    if limit < 1:
        raise HostConfigError(f"{BODY_LIMIT_SETTING}: {value!r} is not a number of bytes")
    return limit


def _as_setting(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _as_port(value: Any, where: str) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise HostConfigError(f"{where}: {value!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise HostConfigError(f"{where}: {port} is not a port number")
    return port
