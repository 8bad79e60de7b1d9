"""The settings of Industry Data runs: the switch, and how many of the newest runs are kept."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.core.env import flag, number

ENABLE_SETTING = "INDUSTRY_DATA_RUNS_ENABLED"
RUNS_KEPT_SETTING = "INDUSTRY_DATA_RUNS_KEPT"
DEFAULT_RUNS_KEPT = 50


@dataclass(frozen=True)
class IndustryDataRunsSettings:
    enabled: bool = False
    runs_kept: int = DEFAULT_RUNS_KEPT


def read_settings(env: Mapping[str, str]) -> IndustryDataRunsSettings:
    return IndustryDataRunsSettings(
        enabled=flag(env, ENABLE_SETTING, default=False),
        runs_kept=int(number(env, RUNS_KEPT_SETTING, DEFAULT_RUNS_KEPT, 1, 999)),
    )
