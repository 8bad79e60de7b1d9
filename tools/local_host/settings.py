"""Host configuration: local.settings.json, host.json and the environment.

Core Tools copies ``local.settings.json`` ``Values`` into the worker's environment before
the app is imported, without overwriting variables that are already set, so that a shell
``export GRAPH_BASE_URL=...`` wins over the file. The app reads its settings from
``os.environ`` only, so doing the same here keeps the app unaware of which host runs it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .keys import Keys

__all__ = [
    "DEFAULT_PORT",
    "HostConfig",
    "HostConfigError",
    "LocalSettings",
    "apply_values",
    "keys_from",
    "load_config",
    "read_local_settings",
    "read_route_prefix",
    "resolve_port",
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
class HostConfig:
    """Everything the server needs besides the functions themselves."""

    app_dir: Path
    route_prefix: str
    keys: Keys
    max_body_bytes: int = DEFAULT_BODY_LIMIT


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
