"""``{prefix}PollRuns``: the last poll of each source, which /api/health reports, and the
housekeeping records (``historyRetention``: when history was last pruned)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from azure.data.tables import UpdateMode

from shared.core.tenancy import TenantScope
from shared.storage.codec import Entity, get_text, put_optional, put_text
from shared.storage.tables import TableService

_PARTITION = "pollRun"


@dataclass
class PollRun:
    """The last poll of one source, as /api/health reports it."""

    source: str
    outcome: str  # succeeded | partial | failed | unavailable | retired
    started_date_time: str
    finished_date_time: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    # Per-item failures grouped by error code: [{"code": ..., "count": ...}].
    errors: list[dict[str, Any]] = field(default_factory=list)
    # Graph refused or failed the whole source: {"status", "code", "message"}.
    source_error: dict[str, Any] | None = None
    # Start of the latest poll that listed the whole source (this one or an earlier one):
    # every item it listed and did not fail on was read from Graph then.
    listed_date_time: str | None = None
    # When Graph was first seen to have retired the source (while it still has).
    retired_since: str | None = None
    # What else the source reports of its poll (counts and codes only: /api/health is
    # anonymous), such as a discovery or a provisioning-log read.
    details: dict[str, Any] = field(default_factory=dict)
    # Changes this poll moved to the history and the outbox (not kept: what the round asks
    # deliveries for).
    changes_recorded: int = field(default=0, compare=False)

    def to_entity(self) -> Entity:
        entity = {
            "PartitionKey": _PARTITION,
            "RowKey": self.source,
            "outcome": self.outcome,
            "startedDateTime": self.started_date_time,
            "counts": json.dumps(self.counts),
            "errors": json.dumps(self.errors),
        }
        put_optional(entity, "finishedDateTime", self.finished_date_time)
        put_optional(entity, "listedDateTime", self.listed_date_time)
        put_optional(entity, "retiredSince", self.retired_since)
        if self.details:
            put_text(entity, "details", json.dumps(self.details, ensure_ascii=False))
        if self.source_error is not None:
            put_text(entity, "sourceError", json.dumps(self.source_error, ensure_ascii=False))
        return entity

    @classmethod
    def from_entity(cls, entity: Entity) -> PollRun:
        source_error = get_text(entity, "sourceError")
        details = get_text(entity, "details")
        return cls(
            source=entity["RowKey"],
            outcome=entity["outcome"],
            started_date_time=entity["startedDateTime"],
            finished_date_time=entity.get("finishedDateTime"),
            counts=json.loads(entity.get("counts") or "{}"),
            errors=json.loads(entity.get("errors") or "[]"),
            source_error=json.loads(source_error) if source_error else None,
            listed_date_time=entity.get("listedDateTime"),
            retired_since=entity.get("retiredSince"),
            details=json.loads(details) if details else {},
        )


class PollRunsTable:
    """One tenant's poll records (``scope``: RowKey ``{tenantId}|{source}`` for another
    tenant than the home)."""

    def __init__(self, tables: TableService, scope: TenantScope) -> None:
        self._tables = tables
        self._table = tables.table("PollRuns")
        self._scope = scope

    async def save(self, run: PollRun) -> None:
        entity = run.to_entity()
        entity["RowKey"] = self._scope.key(run.source)
        async with self._tables.call():
            await self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    async def read_all(self) -> list[PollRun]:
        """This tenant's poll records, one per source polled."""
        async with self._tables.call():
            entities = self._table.query_entities(
                "PartitionKey eq @kind", parameters={"kind": _PARTITION}
            )
            found = [entity async for entity in entities]
        runs = []
        for entity in found:
            source = self._scope.name_of(entity["RowKey"])
            if source is not None:
                entity["RowKey"] = source
                runs.append(PollRun.from_entity(entity))
        return runs

    async def by_source(self) -> dict[str, PollRun]:
        return {run.source: run for run in await self.read_all()}
