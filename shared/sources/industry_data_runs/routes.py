"""The routes of Industry Data runs, under ``/api``, mirroring Graph's paths and shapes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.core.api import ApiCall, Reply
from shared.core.errors import NotFoundError
from shared.core.time import newest_first_key
from shared.sources.base import Operation, Services
from shared.sources.documents import document_reply
from shared.sources.industry_data_runs.cached import CachedRun
from shared.storage.keys import validate_key

if TYPE_CHECKING:
    from shared.sources.industry_data_runs.source import IndustryDataRuns

RUNS_ROUTE = "external/industryData/runs"
# A run's getStatistics is an OData function: Graph serves it by its short name and in the
# function form (namespace-qualified, with parentheses) that Microsoft's SDKs call. Both are
# served, by the same handler.
STATISTICS_SEGMENTS = ("getStatistics", "microsoft.graph.industryData.getStatistics()")


class RunRoutes:
    """The handlers, bound to the source whose cache they read."""

    def __init__(self, source: IndustryDataRuns) -> None:
        self._source = source

    def operations(self) -> tuple[Operation, ...]:
        run = RUNS_ROUTE + "/{id}"
        short, function = (f"{run}/{segment}" for segment in STATISTICS_SEGMENTS)
        return (
            Operation("list_industry_data_runs", RUNS_ROUTE, "GET", self.list_runs_kept),
            Operation("get_industry_data_run", run, "GET", self.get_run),
            Operation("get_industry_data_run_statistics", short, "GET", self.get_statistics),
            Operation(
                "get_industry_data_run_statistics_function", function, "GET", self.get_statistics
            ),
        )

    async def list_runs_kept(self, call: ApiCall, services: Services) -> Reply:
        """``GET /api/external/industryData/runs``: the cached runs (the newest
        INDUSTRY_DATA_RUNS_KEPT, at most 999), newest first, in one page."""
        runs = await self._source.cached_items(services.store)
        runs.sort(
            key=lambda run: newest_first_key(run.resource.get("startDateTime"), run.id),
            reverse=True,
        )
        base = services.settings.graph_base_url
        body = {
            "@odata.context": f"{base}/beta/$metadata#{RUNS_ROUTE}",
            "value": [run.resource for run in runs],
        }
        return Reply(body)

    async def get_run(self, call: ApiCall, services: Services) -> Reply:
        """``GET /api/external/industryData/runs/{id}``."""
        run = await self._cached_run(call, services)
        return document_reply(run, services.settings, f"/beta/$metadata#{RUNS_ROUTE}/$entity")

    async def get_statistics(self, call: ApiCall, services: Services) -> Reply:
        """``GET .../runs/{id}/getStatistics`` (or ``.../microsoft.graph.industryData.
        getStatistics()``): fetched once, for runs that finished with errors or warnings."""
        run = await self._cached_run(call, services)
        if run.statistics is None:
            raise NotFoundError(
                f"No statistics of run '{run.id}' are cached: they are read once a run "
                "finishes with errors or warnings."
            )
        base = services.settings.graph_base_url
        context = f"{base}/beta/$metadata#microsoft.graph.industryData.industryDataRunStatistics"
        return Reply({"@odata.context": context, **run.statistics})

    async def _cached_run(self, call: ApiCall, services: Services) -> CachedRun:
        run_id = validate_key(call.route.get("id", ""))
        run = await self._source.cached(services.store, run_id)
        if run is None:
            raise NotFoundError(f"No Industry Data run with id '{run_id}' is cached.")
        return run
