"""The settings of School Data Sync (classic): one switch, on unless switched off."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.core.env import flag

ENABLE_SETTING = "SDS_PROFILES_ENABLED"


@dataclass(frozen=True)
class SchoolDataSyncSettings:
    enabled: bool = True


def read_settings(env: Mapping[str, str]) -> SchoolDataSyncSettings:
    return SchoolDataSyncSettings(enabled=flag(env, ENABLE_SETTING, default=True))
