"""The settings of directory synchronization: on unless switched off, and how old the last
sync may be before it is an error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.core.env import flag, number

ENABLE_SETTING = "DIRECTORY_SYNC_ENABLED"
STALE_AFTER_SETTING = "DIRECTORY_SYNC_STALE_AFTER_MINUTES"
DEFAULT_STALE_AFTER_MINUTES = 120


@dataclass(frozen=True)
class DirectorySynchronizationSettings:
    enabled: bool = True
    # A last sync older than this is an error (Connect syncs every 30 minutes).
    stale_after_minutes: int = DEFAULT_STALE_AFTER_MINUTES


def read_settings(env: Mapping[str, str]) -> DirectorySynchronizationSettings:
    return DirectorySynchronizationSettings(
        enabled=flag(env, ENABLE_SETTING, default=True),
        stale_after_minutes=int(
            number(env, STALE_AFTER_SETTING, DEFAULT_STALE_AFTER_MINUTES, 1, 60 * 24 * 30)
        ),
    )
