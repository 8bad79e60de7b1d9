"""What Industry Data runs read from Graph (beta): the runs, and a run's statistics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from shared.core.graph_ids import graph_segment
from shared.core.jsontext import ensure_storable, first_problem
from shared.graph.errors import GraphError

if TYPE_CHECKING:
    from shared.graph.client import GraphClient


def fetch_run_pages(graph: GraphClient) -> AsyncIterator[list[dict[str, Any]]]:
    """Pages of ``GET /beta/external/industryData/runs``."""
    return graph.get_pages("{+baseurl}/beta/external/industryData/runs", {})


async def fetch_run_statistics(graph: GraphClient, run_id: str) -> dict[str, Any] | GraphError:
    """``GET /beta/external/industryData/runs/{id}/getStatistics`` fit to cache (without its
    ``@odata.context``), or the GraphError it failed with."""
    try:
        run = graph_segment(run_id, name="run id")  # checked by the poll already
        statistics = await graph.get_json(
            f"{{+baseurl}}/beta/external/industryData/runs/{run}/getStatistics", {}
        )
        ensure_storable(statistics)
    except GraphError as error:
        return error
    except ValueError as error:
        return GraphError(200, "invalidResponse", first_problem(error))
    statistics.pop("@odata.context", None)
    return statistics
