"""The status store: the app's tables in one object, built once from the settings, for one
tenant at a time (``for_tenant``: the same connections, another tenant's rows)."""

from __future__ import annotations

from shared.core.tenancy import TenantScope, home_scope
from shared.settings import Settings
from shared.storage.app_secrets import AppSecretsTable
from shared.storage.history import HistoryTable
from shared.storage.incidents import IncidentsTable
from shared.storage.item_logs import ItemLogTable
from shared.storage.maintenance import MaintenanceTable
from shared.storage.outbox import OutboxTable
from shared.storage.poll_runs import PollRunsTable
from shared.storage.report_budget import ReportBudgetTable
from shared.storage.rounds import RoundsTable
from shared.storage.source_state import SourceState, SourceStateTable
from shared.storage.statuses import StatusesTable
from shared.storage.subscriptions import SubscriptionsTable
from shared.storage.tables import TableService
from shared.storage.tenant_keys import TenantKeysTable
from shared.storage.tenants import TenantsTable


class StatusStore:
    """Every table the app reads and writes, over one connection pool, for the tenant of
    ``scope`` (statuses, history, poll records, source state and item logs are the
    tenant's; subscriptions, the outbox, the tenant registry and the app's secrets are the
    deployment's)."""

    def __init__(self, tables: TableService, scope: TenantScope | None = None) -> None:
        self._tables = tables
        self.scope = scope or home_scope(None)
        self.statuses = StatusesTable(tables, self.scope)
        self.poll_runs = PollRunsTable(tables, self.scope)
        self.history = HistoryTable(tables, self.scope)
        self.outbox = OutboxTable(tables)
        self.subscriptions = SubscriptionsTable(tables)
        self.source_state = SourceStateTable(tables, self.scope)
        self.item_logs = ItemLogTable(tables, self.scope)
        self.incidents = IncidentsTable(tables, self.scope)
        self.maintenance = MaintenanceTable(tables, self.scope)
        self.secrets = AppSecretsTable(tables)
        self.tenants = TenantsTable(tables)
        self.tenant_keys = TenantKeysTable(tables)
        self.rounds = RoundsTable(tables)
        # Graph's report budget, shared by every instance (the deployment's).
        self.report_budget = ReportBudgetTable(tables)

    def state_of(self, source: str) -> SourceState:
        """What one source keeps between polls besides its items."""
        return SourceState(self.source_state, self.item_logs, source)

    def for_tenant(self, scope: TenantScope) -> StatusStore:
        """The same store for another tenant's rows (the same connections)."""
        if scope == self.scope:
            return self
        view = StatusStore(self._tables, scope)
        view.secrets = self.secrets  # one secret cache per process
        return view

    async def purge(self) -> dict[str, int]:
        """Delete every row this tenant has (never the home tenant's): how many, by kind."""
        if self.scope.home:
            raise ValueError("the home tenant's rows are never purged")
        statuses, history, logs, state, incidents = (
            await self.statuses.purge(),
            await self.history.purge(),
            await self.item_logs.purge(),
            await self.source_state.purge(),
            await self.incidents.purge() + await self.maintenance.purge(),
        )
        # Its subscriptions with what waits for them, and its events waiting for any other.
        subscriptions = await self.subscriptions.purge_tenant(self.scope.tenant_id)
        for subscription_id in subscriptions:
            await self.outbox.clear(subscription_id)
        events = await self.outbox.purge_tenant(self.scope.tenant_id)
        return {
            "statuses": statuses, "history": history, "itemLogs": logs, "state": state,
            "subscriptions": len(subscriptions), "events": events, "incidents": incidents,
        }  # fmt: skip

    @classmethod
    def from_settings(cls, settings: Settings) -> StatusStore:
        return cls(TableService.from_settings(settings), home_scope(settings.home_tenant_id))

    async def close(self) -> None:
        await self._tables.close()
