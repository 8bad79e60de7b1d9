"""An Industry Data run as cached: the run as Graph sent it, and the statistics of a run
that finished with errors or warnings (fetched once: a finished run does not change)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.core.health import Assessment
from shared.sources.documents import CachedDocument
from shared.storage.codec import Entity, get_document, put_document

STATISTICS_COLUMN = "statistics"


@dataclass
class CachedRun(CachedDocument):
    statistics: dict[str, Any] | None = None

    def context(self) -> dict[str, Any] | None:
        return self.statistics

    def to_entity(self) -> Entity:
        entity = super().to_entity()
        if self.statistics is not None:
            put_document(entity, STATISTICS_COLUMN, self.statistics)
        return entity

    def refresh_columns(self, current: Entity) -> tuple[dict[str, Any], Assessment]:
        """Statistics read since the run was cached are added to it."""
        columns: dict[str, Any] = {}
        cached = STATISTICS_COLUMN in current or f"{STATISTICS_COLUMN}Z" in current
        if self.statistics is not None and not cached:
            put_document(columns, STATISTICS_COLUMN, self.statistics)
        return columns, self.health

    @classmethod
    def read_extra(cls, entity: Entity) -> dict[str, Any]:
        return {"statistics": get_document(entity, STATISTICS_COLUMN)}
