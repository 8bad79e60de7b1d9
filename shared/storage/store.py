"""The status store: the app's tables in one object, built once from the settings."""

from __future__ import annotations

from shared.settings import Settings
from shared.storage.app_secrets import AppSecretsTable
from shared.storage.history import HistoryTable
from shared.storage.item_logs import ItemLogTable
from shared.storage.outbox import OutboxTable
from shared.storage.poll_runs import PollRunsTable
from shared.storage.source_state import SourceState, SourceStateTable
from shared.storage.statuses import StatusesTable
from shared.storage.subscriptions import SubscriptionsTable
from shared.storage.tables import TableService


class StatusStore:
    """Every table the app reads and writes, over one connection pool."""

    def __init__(self, tables: TableService) -> None:
        self._tables = tables
        self.statuses = StatusesTable(tables)
        self.poll_runs = PollRunsTable(tables)
        self.history = HistoryTable(tables)
        self.outbox = OutboxTable(tables)
        self.subscriptions = SubscriptionsTable(tables)
        self.source_state = SourceStateTable(tables)
        self.item_logs = ItemLogTable(tables)
        self.secrets = AppSecretsTable(tables)

    def state_of(self, source: str) -> SourceState:
        """What one source keeps between polls besides its items."""
        return SourceState(self.source_state, self.item_logs, source)

    @classmethod
    def from_settings(cls, settings: Settings) -> StatusStore:
        return cls(TableService.from_settings(settings))

    async def close(self) -> None:
        await self._tables.close()
