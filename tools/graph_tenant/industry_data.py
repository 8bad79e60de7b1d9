"""Industry Data (beta): inbound flow runs and their ``getStatistics`` (short and OData function
form), with their Graph and control endpoints, and generated and demo runs."""

from __future__ import annotations

import logging
import random
import re
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tools.graph_tenant.common import (
    HOUR_NS,
    ID_NAMESPACE,
    MINUTE_NS,
    SECOND_NS,
    GraphAnswer,
    GraphCall,
    Paging,
    Route,
    graph_timestamp,
    json_copy,
    page,
    random_offset_ns,
)
from tools.graph_tenant.control import control_error, read_object
from tools.graph_tenant.industry_data_resources import (
    blocking_error,
    empty_run_statistics,
    run_resource,
    run_statistics,
)

if TYPE_CHECKING:
    from tools.graph_tenant.server import SimulatedTenant

logger = logging.getLogger(__name__)

RUNS_PATH = "/beta/external/industryData/runs"
# A run's getStatistics, in the short form and in the OData function form (namespace-qualified,
# with its parentheses) that Graph serves beside it and Microsoft's SDKs call.
STATISTICS_SEGMENT = r"(?:getStatistics|microsoft\.graph\.industryData\.getStatistics\(\))"

# Properties of a run in the control API -> keyword of SimulatedTenant.add_run.
RUN_FIELDS = {
    "displayName": "display_name",
    "status": "status",
    "startDateTime": "start",
    "endDateTime": "end",
    "blockingError": "blocking_error",
    "statistics": "statistics",
}

TIMESTAMP_PARTS = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?")


def timestamp_sort_key(value: object) -> tuple[int, str]:
    """Order Graph timestamps whatever their fraction's length; non-timestamps sort oldest."""
    if isinstance(value, str):
        match = TIMESTAMP_PARTS.match(value)
        if match is not None:
            return 1, f"{match[1]}.{(match[2] or '')[:9]:0<9}"
    return 0, ""


class IndustryDataArea:
    """The tenant's runs: id -> {"run": industryDataRun, "statistics": industryDataRunStatistics
    or None}, in insertion order."""

    source = "industryData"
    prefix = "/beta/external/industryData/"
    segment = "industryData"

    def __init__(self, paging: Paging) -> None:
        self._paging = paging
        self._runs: dict[str, dict[str, Any]] = {}
        self._newest_runs: list[str] | None = None  # run ids newest first, until runs change

    # -- tenant data (delegated to by SimulatedTenant's methods of the same names) -----------

    def add_run(
        self,
        run_id: str | None = None,
        *,
        display_name: str = "Inbound flow run",
        status: str = "running",
        start: str | None = None,
        end: str | None = None,
        blocking_error: dict[str, Any] | None = None,
        statistics: dict[str, Any] | None = None,
    ) -> str:
        """Add or replace an Industry Data run; timestamps are Graph strings (start: now).

        ``statistics`` (see :func:`run_statistics`) is what ``getStatistics`` answers; a run
        without them answers zero totals.
        """
        if run_id is None:
            run_id = str(uuid.uuid4())
        begun = start if start is not None else graph_timestamp(time.time_ns())
        self._runs[run_id] = {
            "run": run_resource(
                run_id, display_name, status, begun, end, json_copy(blocking_error)
            ),
            "statistics": json_copy(statistics),
        }
        self._newest_runs = None
        return run_id

    def set_run(self, run_id: str, /, **changes: Any) -> None:
        """Merge Graph properties (``status``, ``endDateTime``...) into a run (KeyError if none)."""
        self._runs[run_id]["run"].update(json_copy(changes))
        self._newest_runs = None

    def set_run_statistics(self, run_id: str, statistics: dict[str, Any] | None) -> None:
        """Replace what ``getStatistics`` answers for a run (None: zero totals again)."""
        self._runs[run_id]["statistics"] = json_copy(statistics)

    def get_run(self, run_id: str) -> dict[str, Any]:
        """A copy of one entry, {"run": ..., "statistics": ...} (KeyError for an unknown id)."""
        return json_copy(self._runs[run_id])

    def remove_run(self, run_id: str) -> None:
        del self._runs[run_id]
        self._newest_runs = None

    @property
    def runs(self) -> dict[str, dict[str, Any]]:
        """A snapshot: id -> {"run": ..., "statistics": ...}, in insertion order."""
        return json_copy(self._runs)

    def newest_run_id(self) -> str | None:
        """The run Graph lists first (latest ``startDateTime``), None without runs."""
        order = self._run_order()
        return order[0] if order else None

    def _run_order(self) -> list[str]:
        """Run ids newest first, as Graph lists them; cached until a run changes.

        The cache keeps paging through 10,000 runs from sorting them again for every page.
        Equal start times keep insertion order.
        """
        if self._newest_runs is None:
            self._newest_runs = sorted(
                self._runs,
                key=lambda run_id: timestamp_sort_key(
                    self._runs[run_id]["run"].get("startDateTime")
                ),
                reverse=True,
            )
        return self._newest_runs

    # -- Graph -------------------------------------------------------------------------------

    def graph_routes(self) -> list[Route]:
        run_path = rf"{RUNS_PATH}/(?P<id>[^/]+)"
        return [
            Route("GET", re.compile(RUNS_PATH), self._serve_run_list),
            Route("GET", re.compile(run_path), self._serve_run),
            Route(
                "GET", re.compile(rf"{run_path}/{STATISTICS_SEGMENT}"), self._serve_run_statistics
            ),
        ]

    async def _serve_run_list(self, call: GraphCall, _match: re.Match[str]) -> GraphAnswer:
        context = f"{call.base_url}/beta/$metadata#external/industryData/runs"
        return page(
            call,
            self._run_order(),
            lambda run_id: self._runs[run_id]["run"],
            context,
            self._paging,
        )

    async def _serve_run(self, call: GraphCall, match: re.Match[str]) -> GraphAnswer:
        entry = self._runs.get(match["id"])
        if entry is None:
            return self._run_not_found(call, match["id"])
        context = f"{call.base_url}/beta/$metadata#external/industryData/runs/$entity"
        return call.answer(200, {"@odata.context": context, **entry["run"]})

    async def _serve_run_statistics(self, call: GraphCall, match: re.Match[str]) -> GraphAnswer:
        """The run's statistics; before any are set, zero totals under the run's status.

        getStatistics is a function bound to every run, so a run that has counted nothing yet
        gets zero totals rather than a 404 (Graph documents no error for that case). Missing
        or empty ``runId``/``status`` come from the run.
        """
        run_id = match["id"]
        entry = self._runs.get(run_id)
        if entry is None:
            return self._run_not_found(call, run_id)
        status = entry["run"].get("status")
        statistics = entry["statistics"]
        if statistics is None:
            statistics = empty_run_statistics(run_id, status)
        context = (
            f"{call.base_url}/beta/$metadata#microsoft.graph.industryData.industryDataRunStatistics"
        )
        defaults = {"runId": run_id, "status": status}
        filled = {key: value for key, value in statistics.items() if value not in ("", None)}
        return call.answer(200, {"@odata.context": context, **statistics, **defaults, **filled})

    @staticmethod
    def _run_not_found(call: GraphCall, run_id: str) -> GraphAnswer:
        return call.error(404, "ResourceNotFound", f"The industryDataRun '{run_id}' was not found.")

    # -- control API -------------------------------------------------------------------------

    def control_routes(self) -> list[web.RouteDef]:
        return [
            web.get("/_tenant/runs", self._control_run_list),
            web.put("/_tenant/runs/{id}", self._control_put_run),
            web.patch("/_tenant/runs/{id}", self._control_patch_run),
            web.delete("/_tenant/runs/{id}", self._control_delete_run),
        ]

    async def _control_run_list(self, _request: web.Request) -> web.Response:
        return web.json_response({"value": list(self.runs.values())})

    async def _control_put_run(self, request: web.Request) -> web.Response:
        """Add or replace a run: Graph's run properties, plus "statistics"."""
        run_id = request.match_info["id"]
        body = await read_object(request)
        unknown = sorted(set(body) - set(RUN_FIELDS))
        if unknown:
            raise control_error(web.HTTPBadRequest, f"Unknown run properties: {unknown}.")
        for name in ("displayName", "status"):
            if name in body and not isinstance(body[name], str):
                raise control_error(web.HTTPBadRequest, f"'{name}' must be a string.")
        for name in ("startDateTime", "endDateTime"):
            if body.get(name) is not None and not isinstance(body[name], str):
                raise control_error(web.HTTPBadRequest, f"'{name}' must be a string or null.")
        for name in ("blockingError", "statistics"):
            if body.get(name) is not None and not isinstance(body[name], dict):
                raise control_error(web.HTTPBadRequest, f"'{name}' must be a JSON object.")
        created = run_id not in self._runs
        options = {RUN_FIELDS[name]: value for name, value in body.items()}
        self.add_run(run_id, **options)
        return web.json_response(self.get_run(run_id), status=201 if created else 200)

    async def _control_patch_run(self, request: web.Request) -> web.Response:
        """Merge run properties; a "statistics" key replaces the statistics instead."""
        run_id = request.match_info["id"]
        changes = await read_object(request)
        has_statistics = "statistics" in changes
        statistics = changes.pop("statistics", None)
        if statistics is not None and not isinstance(statistics, dict):
            raise control_error(web.HTTPBadRequest, "'statistics' must be a JSON object or null.")
        try:
            self.set_run(run_id, **changes)
            if has_statistics:
                self.set_run_statistics(run_id, statistics)
        except KeyError:
            raise self._unknown_run(run_id) from None
        return web.json_response(self.get_run(run_id))

    async def _control_delete_run(self, request: web.Request) -> web.Response:
        run_id = request.match_info["id"]
        try:
            self.remove_run(run_id)
        except KeyError:
            raise self._unknown_run(run_id) from None
        return web.Response(status=204)

    @staticmethod
    def _unknown_run(run_id: str) -> web.HTTPException:
        return control_error(web.HTTPNotFound, f"No run with id {run_id!r}.")


# -- generated and demo runs -----------------------------------------------------------------

# Statuses of finished ``--runs`` runs; runs happen about every 12 hours.
GENERATED_RUN_STATUSES = (
    ("completed", 70),
    ("completedWithWarnings", 15),
    ("completedWithErrors", 8),
    ("failed", 7),
)
RUN_INTERVAL_NS = 12 * HOUR_NS
# The demo's finished runs: (hours before now, status).
DEMO_FINISHED_RUNS = ((36, "completed"), (24, "completedWithWarnings"), (12, "failed"))
# Chance that a tick starts the next demo run once the previous one has finished.
DEMO_RUN_START_ODDS = 0.5


def run_display_name(start_ns: int) -> str:
    """Graph names runs after their start: ``Run 2023-11-01 11:10 UTC``."""
    return f"Run {datetime.fromtimestamp(start_ns // SECOND_NS, UTC):%Y-%m-%d %H:%M} UTC"


def finished_run(
    tenant: SimulatedTenant,
    run_id: str,
    status: str,
    start_ns: int,
    duration_ns: int,
    rng: random.Random | None = None,
) -> None:
    """Add a finished run with the statistics (or blocking error) its status implies."""
    errors = warnings = 0
    if status == "completedWithErrors":
        errors = rng.randrange(1, 60) if rng else 23
    elif status == "completedWithWarnings":
        warnings = rng.randrange(1, 40) if rng else 14
    failed = status == "failed"
    tenant.add_run(
        run_id,
        display_name=run_display_name(start_ns),
        status=status,
        start=graph_timestamp(start_ns),
        end=graph_timestamp(start_ns + duration_ns),
        blocking_error=blocking_error() if failed else None,
        statistics=None if failed else run_statistics(errors, warnings, run_id=run_id),
    )


def populate_runs(tenant: SimulatedTenant, count: int, seed: int) -> list[str]:
    """Add ``count`` finished runs, 12 hours apart going back from now (newest first).

    Ids and statuses depend only on ``seed`` and the index; failed runs carry a blocking
    error and no statistics.
    """
    rng = random.Random(seed)
    now = time.time_ns()
    names, weights = zip(*GENERATED_RUN_STATUSES, strict=True)
    ids = []
    for index in range(count):
        run_id = str(uuid.uuid5(ID_NAMESPACE, f"{seed}/run/{index}"))
        start = now - (index + 1) * RUN_INTERVAL_NS - random_offset_ns(rng, 0, 600)
        duration = random_offset_ns(rng, 600, 5400)
        finished_run(tenant, run_id, rng.choices(names, weights)[0], start, duration, rng)
        ids.append(run_id)
    return ids


def populate_demo_runs(tenant: SimulatedTenant, now_ns: int) -> None:
    """Add the demo's runs: finished ones 12 hours apart, and one running for 25 minutes."""
    for hours, status in DEMO_FINISHED_RUNS:
        run_id = str(uuid.uuid5(ID_NAMESPACE, f"demo/run/{hours}"))
        finished_run(tenant, run_id, status, now_ns - hours * HOUR_NS, 47 * MINUTE_NS)
    start = now_ns - 25 * MINUTE_NS
    tenant.add_run(
        str(uuid.uuid5(ID_NAMESPACE, "demo/run/running")),
        display_name=run_display_name(start),
        start=graph_timestamp(start),
    )


def advance_demo_runs(tenant: SimulatedTenant, rng: random.Random, now_ns: int) -> None:
    """Move the newest run along: a running run counts on its first tick and ends with
    errors on its second; once it has ended, a later tick starts the next one.

    The run's own statistics record how far it got, so no state is kept between ticks.
    """
    run_id = tenant.newest_run_id()
    if run_id is None:
        return
    entry = tenant.get_run(run_id)
    if entry["run"].get("status") != "running":
        if rng.random() < DEMO_RUN_START_ODDS:
            started = tenant.add_run(
                str(uuid.uuid5(ID_NAMESPACE, f"demo/run/{now_ns}")),
                display_name=run_display_name(now_ns),
                start=graph_timestamp(now_ns),
            )
            logger.info("Demo: run %s started", started)
        return
    errors = rng.randrange(1, 40)
    if entry["statistics"] is None:
        partial = run_statistics(errors // 2, 0, run_id=run_id, status="running", people=600)
        tenant.set_run_statistics(run_id, partial)
        return
    tenant.set_run(run_id, status="completedWithErrors", endDateTime=graph_timestamp(now_ns))
    tenant.set_run_statistics(run_id, run_statistics(errors, rng.randrange(0, 10), run_id=run_id))
    logger.info("Demo: run %s completedWithErrors (%d errors)", run_id, errors)
