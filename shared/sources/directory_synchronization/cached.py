"""The organization as cached: Graph's JSON whole, judged at the time the poll read it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.core.health import CHECKED_AT
from shared.core.time import utc_now
from shared.sources.directory_synchronization.health import STALE_AFTER
from shared.sources.directory_synchronization.settings import DEFAULT_STALE_AFTER_MINUTES
from shared.sources.documents import CachedDocument


@dataclass
class CachedOrganization(CachedDocument):
    # From the settings, when a poll read it (not kept: the settings say it each time).
    stale_after_minutes: int = DEFAULT_STALE_AFTER_MINUTES

    def context(self) -> dict[str, Any]:
        return {
            CHECKED_AT: self.last_checked_date_time or utc_now(),
            STALE_AFTER: self.stale_after_minutes,
        }
