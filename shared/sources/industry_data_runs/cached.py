"""An Industry Data run as cached: the run as Graph sent it, and the statistics of a run
that finished with errors or warnings (fetched once: a finished run does not change)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.core.health import Assessment
from shared.sources.documents import CachedDocument
from shared.storage.items import ItemUpdate, StoredItem

STATISTICS_PART = "statistics"


@dataclass
class CachedRun(CachedDocument):
    statistics: dict[str, Any] | None = None

    def context(self) -> dict[str, Any] | None:
        return self.statistics

    def kept_documents(self) -> dict[str, Any]:
        return {STATISTICS_PART: self.statistics}

    def refresh(self, current: StoredItem) -> tuple[ItemUpdate, Assessment]:
        """Statistics read since the run was cached are added to it."""
        update = ItemUpdate()
        if self.statistics is not None and not current.has_document(STATISTICS_PART):
            update.documents[STATISTICS_PART] = self.statistics
        return update, self.health

    @classmethod
    def read_extra(cls, item: StoredItem) -> dict[str, Any]:
        return {"statistics": item.document(STATISTICS_PART)}
