"""Readers of one setting from the environment (the app's settings and each source's own):
each validates its value and raises SettingsError naming the setting."""

from __future__ import annotations

import re
from collections.abc import Mapping

from shared.core.errors import SettingsError

OBJECT_ID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def text(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip()
    return value or default


def choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = text(env, name, default).lower()
    if value not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}; got {value!r}.")
    return value


def number(
    env: Mapping[str, str], name: str, default: float, minimum: float, maximum: float
) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number; got {raw!r}.") from None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{name} must be between {minimum:g} and {maximum:g}; got {raw}.")
    return value


def flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise SettingsError(f"{name} must be true or false; got {value!r}.")


def object_ids(env: Mapping[str, str], name: str, what: str) -> tuple[str, ...]:
    """Object ids (GUIDs), comma-separated: lower-case, once each, in the order given."""
    ids: list[str] = []
    for part in env.get(name, "").split(","):
        value = part.strip().lower()
        if not value:
            continue
        if not OBJECT_ID.fullmatch(value):
            raise SettingsError(
                f"{name} holds {what} object ids (GUIDs), comma-separated; "
                f"{part.strip()!r} is not one."
            )
        ids.append(value)
    return tuple(dict.fromkeys(ids))
