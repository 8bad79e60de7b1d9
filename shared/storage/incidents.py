"""``{prefix}Incidents``: each tenant's incidents, one row each, with its timeline.

PartitionKey ``incidents`` in the tenant's keys (``storage.scoping``), RowKey the incident's
id (stable per problem: ``core.incidents.incident_id``). The row keeps the incident as JSON
beside the columns its listings filter on (state, source, health, when it opened and
resolved). Writes are ETag-conditional, so a review and an acknowledgement that cross never
undo each other: the loser reads again (``VersionConflictError``).
"""

from __future__ import annotations

from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.core.errors import VersionConflictError
from shared.core.incidents import Incident
from shared.core.tenancy import TenantScope
from shared.storage.codec import Entity, get_text, put_text
from shared.storage.scoping import delete_tenant_rows, scoped, unscoped
from shared.storage.tables import TableService

_PARTITION = "incidents"
_COLUMNS = ("state", "source", "itemId", "health", "openedDateTime", "resolvedDateTime")


class IncidentsTable:
    def __init__(self, tables: TableService, scope: TenantScope) -> None:
        self._tables = tables
        self._scope = scope
        self._table = tables.table("Incidents")

    async def get(self, incident_id: str) -> tuple[Incident, str] | None:
        """The incident and its ETag (None when this tenant has none of that id)."""
        async with self._tables.call():
            try:
                entity = await self._table.get_entity(self._partition(), incident_id)
            except ResourceNotFoundError:
                return None
        return _incident(entity), entity.metadata["etag"]

    async def tenant_of(self, incident_id: str) -> str | None:
        """Whose incident this is (the tenant's id), found across tenants; None: nobody's."""
        async with self._tables.call():
            found = self._table.query_entities("RowKey eq @id", parameters={"id": incident_id})
            entities = [entity async for entity in found]
        for entity in entities:
            return _incident(entity).tenantId
        return None

    async def unresolved(self) -> list[tuple[Incident, str]]:
        """The tenant's incidents not resolved yet (open or acknowledged), with their ETags."""
        return await self._query("state ne @resolved", {"resolved": "resolved"})

    async def listing(
        self, *, state: str | None = None, source: str | None = None, health: str | None = None
    ) -> list[Incident]:
        """The tenant's incidents, newest first, optionally of one state, source or health."""
        filters, parameters = [], {}
        for name, value in (("state", state), ("source", source), ("health", health)):
            if value is not None:
                filters.append(f"{name} eq @{name}")
                parameters[name] = value
        found = await self._query(" and ".join(filters), parameters)
        incidents = [incident for incident, _etag in found]
        return sorted(incidents, key=lambda incident: incident.openedDateTime, reverse=True)

    async def write(self, incident: Incident, etag: str | None) -> str:
        """Create the incident (``etag`` None) or replace it if still at ``etag``; return the
        new ETag. VersionConflictError when another writer got there first."""
        entity = scoped(self._scope, _entity(incident))
        async with self._tables.call():
            try:
                if etag is None:
                    metadata = await self._table.create_entity(entity)
                else:
                    metadata = await self._table.update_entity(
                        entity, mode=UpdateMode.REPLACE, etag=etag,
                        match_condition=MatchConditions.IfNotModified,
                    )  # fmt: skip
            except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                raise VersionConflictError(
                    f"Incident '{incident.id}' was changed meanwhile."
                ) from None
        return str(metadata["etag"])

    async def prune(self, resolved_before: str) -> int:
        """Delete every tenant's incidents resolved before ``resolved_before``; how many."""
        query = "state eq @resolved and resolvedDateTime lt @before"
        parameters = {"resolved": "resolved", "before": resolved_before}
        return await self._tables.delete_where(self._table, query, parameters)

    async def purge(self) -> int:
        """Delete every incident of this (non-home) tenant."""
        return await delete_tenant_rows(self._tables, self._table, self._scope)

    def _partition(self) -> str:
        return self._scope.key(_PARTITION) if not self._scope.home else _PARTITION

    async def _query(self, where: str, parameters: dict[str, Any]) -> list[tuple[Incident, str]]:
        query = "PartitionKey eq @p" + (f" and {where}" if where else "")
        async with self._tables.call():
            found = self._table.query_entities(
                query, parameters={"p": self._partition(), **parameters}
            )
            entities = [entity async for entity in found]
        return [(_incident(unscoped(self._scope, e)), e.metadata["etag"]) for e in entities]


def _entity(incident: Incident) -> Entity:
    entity: Entity = {"PartitionKey": _PARTITION, "RowKey": incident.id}
    document = incident.model_dump(mode="json")
    entity |= {name: document[name] or "" for name in _COLUMNS}
    put_text(entity, "incident", incident.model_dump_json())
    return entity


def _incident(entity: Entity) -> Incident:
    return Incident.model_validate_json(get_text(entity, "incident") or "{}")
