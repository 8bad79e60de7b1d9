"""How a poll reads Industry Data runs: the newest INDUSTRY_DATA_RUNS_KEPT, and the
statistics of those that finished with errors or warnings, once."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from shared.core.graph_ids import UnsafeIds
from shared.core.time import newest_first_key
from shared.graph.errors import GraphError
from shared.sources.base import Observation, report_unsafe_ids, usable_entries
from shared.sources.industry_data_runs.cached import CachedRun
from shared.sources.industry_data_runs.const import RUN_STATUSES_WITH_STATISTICS
from shared.sources.industry_data_runs.graph import fetch_run_pages, fetch_run_statistics
from shared.sources.industry_data_runs.models import CheckedIndustryDataRun
from shared.storage.items import StoredItem

if TYPE_CHECKING:
    from shared.graph.client import GraphClient
    from shared.sources.industry_data_runs.source import IndustryDataRuns

logger = logging.getLogger(__name__)


async def observe_runs(
    source: IndustryDataRuns, graph: GraphClient, cached: dict[str, StoredItem], runs_kept: int
) -> Observation:
    """The newest ``runs_kept`` runs; a complete listing removes the runs that left that
    window. Statistics already cached are kept; a failed statistics read leaves the run
    cached all the same, and it is asked for again next time."""
    seen = Observation()
    runs: list[tuple[CheckedIndustryDataRun, dict[str, Any]]] = []
    try:
        async for page in fetch_run_pages(graph):
            seen.listed += len(page)
            runs += usable_entries(page, CheckedIndustryDataRun, seen.failures)
    except GraphError as error:
        seen.error = error
    unsafe = UnsafeIds()
    runs = [(run, item) for run, item in runs if unsafe.admits(run.id)]
    report_unsafe_ids(unsafe, seen, "runs")
    runs.sort(key=lambda pair: newest_first_key(pair[0].startDateTime, pair[0].id), reverse=True)
    kept = runs[:runs_kept]
    if not seen.error and len(seen.failures) == len(unsafe):
        # Complete but for runs whose ids are not Graph ids, which no poll could cache.
        kept_ids = {run.id for run, _item in kept}
        seen.removable = lambda item_id: item_id not in kept_ids
    entries = [source.entry(run.id, item) for run, item in kept]
    for entry in entries:
        previous = cached.get(entry.id)
        if previous is not None:
            entry.statistics = source.from_stored(previous).statistics
    await _read_missing_statistics(graph, entries, seen)
    seen.entries = {entry.id: entry for entry in entries}
    return seen


async def _read_missing_statistics(
    graph: GraphClient, entries: list[CachedRun], seen: Observation
) -> None:
    wanted = [
        entry
        for entry in entries
        if entry.statistics is None and entry.resource.get("status") in RUN_STATUSES_WITH_STATISTICS
    ]
    fetched = await asyncio.gather(*(fetch_run_statistics(graph, entry.id) for entry in wanted))
    for entry, result in zip(wanted, fetched, strict=True):
        if isinstance(result, GraphError):
            seen.failures[entry.id] = result.code
            logger.warning("Statistics of run %s not read: %s", entry.id, result)
        else:
            entry.statistics = result
