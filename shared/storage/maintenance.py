"""``{prefix}MaintenanceWindows``: each tenant's maintenance windows.

PartitionKey ``maintenance`` in the tenant's keys (``storage.scoping``), RowKey the window's
id; the window as JSON beside its end (what the reviews filter on: only windows not over)."""

from __future__ import annotations

import uuid
from contextlib import suppress

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from shared.core.errors import ConflictError
from shared.core.incidents import OPEN_ENDED, MaintenanceWindow
from shared.core.tenancy import TenantScope
from shared.core.time import utc_now
from shared.storage.codec import Entity, get_text, put_text
from shared.storage.scoping import delete_tenant_rows, scoped
from shared.storage.tables import TableService

_PARTITION = "maintenance"


class MaintenanceTable:
    def __init__(self, tables: TableService, scope: TenantScope) -> None:
        self._tables = tables
        self._scope = scope
        self._table = tables.table("MaintenanceWindows")

    async def add(self, window: MaintenanceWindow) -> None:
        """Keep a new window (ConflictError: one of that id is there)."""
        entity: Entity = {"PartitionKey": _PARTITION, "RowKey": window.id,
                          "endDateTime": window.endDateTime}  # fmt: skip
        put_text(entity, "window", window.model_dump_json())
        async with self._tables.call():
            try:
                await self._table.create_entity(scoped(self._scope, entity))
            except ResourceExistsError:
                raise ConflictError(f"Maintenance window '{window.id}' exists.") from None

    async def get(self, window_id: str) -> MaintenanceWindow | None:
        async with self._tables.call():
            try:
                entity = await self._table.get_entity(self._partition(), window_id)
            except ResourceNotFoundError:
                return None
        return _window(entity)

    async def not_over(self, now: str) -> list[MaintenanceWindow]:
        """The tenant's windows that have not ended by ``now`` (under way or to come)."""
        async with self._tables.call():
            found = self._table.query_entities(
                "PartitionKey eq @p and endDateTime gt @now",
                parameters={"p": self._partition(), "now": now},
            )
            entities = [entity async for entity in found]
        return sorted((_window(e) for e in entities), key=lambda w: w.startDateTime)

    async def every(self) -> list[MaintenanceWindow]:
        """Every window of the tenant's, newest start first."""
        return list(reversed(await self.not_over("")))

    async def remove(self, window_id: str) -> bool:
        """Delete a window; whether it was there."""
        async with self._tables.call():
            try:
                await self._table.get_entity(self._partition(), window_id)
            except ResourceNotFoundError:
                return False
            await self._table.delete_entity(self._partition(), window_id)
        return True

    async def hold_for_pause(self, source: str, item_id: str, by: str) -> None:
        """A paused job's window: from now until it is started again (its id is the job's,
        so pausing twice keeps one)."""
        now = utc_now()
        window = MaintenanceWindow(
            id=_pause_id(source, item_id), tenantId=self._scope.tenant_id, source=source,
            itemId=item_id, startDateTime=now, endDateTime=OPEN_ENDED,
            reason=f"Paused through the app by {by}.", createdBy=by, createdDateTime=now,
        )  # fmt: skip
        if await self.get(window.id) is None:
            with suppress(ConflictError):  # another pause made it meanwhile
                await self.add(window)

    async def end_pause(self, source: str, item_id: str) -> None:
        """The paused job was started (or restarted): its window ends."""
        await self.remove(_pause_id(source, item_id))

    async def purge(self) -> int:
        """Delete every window of this (non-home) tenant."""
        return await delete_tenant_rows(self._tables, self._table, self._scope)

    def _partition(self) -> str:
        return _PARTITION if self._scope.home else self._scope.key(_PARTITION)


def _pause_id(source: str, item_id: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"syncstatus/pause/{source}/{item_id}"))


def _window(entity: Entity) -> MaintenanceWindow:
    return MaintenanceWindow.model_validate_json(get_text(entity, "window") or "{}")
