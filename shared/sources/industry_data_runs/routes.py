"""The routes of Industry Data runs, under ``/api``, mirroring Graph's paths and shapes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.core.api import ApiCall, Reply
from shared.core.errors import NotFoundError
from shared.core.time import newest_first_key
from shared.settings import Settings
from shared.sources.base import Operation
from shared.sources.documents import document_reply
from shared.sources.industry_data_runs.entity import CachedRun
from shared.storage.keys import validate_key
from shared.storage.store import StatusStore

if TYPE_CHECKING:
    from shared.sources.industry_data_runs.source import IndustryDataRuns

RUNS_ROUTE = "external/industryData/runs"


class RunRoutes:
    """The handlers, bound to the source whose cache they read."""

    def __init__(self, source: IndustryDataRuns) -> None:
        self._source = source

    def operations(self) -> tuple[Operation, ...]:
        return (
            Operation("list_industry_data_runs", RUNS_ROUTE, "GET", self.list_industry_data_runs),
            Operation(
                "get_industry_data_run", RUNS_ROUTE + "/{id}", "GET", self.get_industry_data_run
            ),
            Operation(
                "get_industry_data_run_statistics",
                RUNS_ROUTE + "/{id}/getStatistics",
                "GET",
                self.get_industry_data_run_statistics,
            ),
        )

    async def list_industry_data_runs(
        self, call: ApiCall, settings: Settings, store: StatusStore
    ) -> Reply:
        """``GET /api/external/industryData/runs``: the cached runs (the newest
        INDUSTRY_DATA_RUNS_KEPT, at most 999), newest first, in one page."""
        runs = await self._source.cached_items(store)
        runs.sort(
            key=lambda run: newest_first_key(run.resource.get("startDateTime"), run.id),
            reverse=True,
        )
        return Reply(
            {
                "@odata.context": f"{settings.graph_base_url}/beta/$metadata#{RUNS_ROUTE}",
                "value": [run.resource for run in runs],
            }
        )

    async def get_industry_data_run(
        self, call: ApiCall, settings: Settings, store: StatusStore
    ) -> Reply:
        """``GET /api/external/industryData/runs/{id}``."""
        run = await self._cached_run(store, call.route.get("id", ""))
        return document_reply(run, settings, f"/beta/$metadata#{RUNS_ROUTE}/$entity")

    async def get_industry_data_run_statistics(
        self, call: ApiCall, settings: Settings, store: StatusStore
    ) -> Reply:
        """``GET .../runs/{id}/getStatistics``: fetched once, for runs that finished with
        errors or warnings."""
        run = await self._cached_run(store, call.route.get("id", ""))
        if run.statistics is None:
            raise NotFoundError(
                f"No statistics of run '{run.id}' are cached: they are read once a run "
                "finishes with errors or warnings."
            )
        base = settings.graph_base_url
        context = f"{base}/beta/$metadata#microsoft.graph.industryData.industryDataRunStatistics"
        return Reply({"@odata.context": context, **run.statistics})

    async def _cached_run(self, store: StatusStore, run_id: str) -> CachedRun:
        entity = await store.statuses.get(self._source.name, validate_key(run_id))
        if entity is None:
            raise NotFoundError(f"No Industry Data run with id '{run_id}' is cached.")
        return self._source.from_entity(entity)
