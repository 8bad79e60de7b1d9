"""A retired API is not an outage: SDS (classic) refused as Graph refuses an API it no longer
knows is ``retired``, left out of the verdict, kept readable, and asked once a day."""

from __future__ import annotations

from typing import Any

import pytest

from shared import composition
from shared.storage.store import StatusStore
from tests.support.app import App
from tests.support.samples import SEED, SEED_ID

SDS = "educationSynchronizationProfiles"
LIST_PATH = "/beta/education/synchronizationProfiles"
RETIRED = "Resource not found for the segment 'synchronizationProfiles'."


@pytest.fixture
def default_sources(app_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The defaults of a fresh deployment: SDS, discovered jobs and Entra Connect."""
    monkeypatch.delenv("PROVISIONING_JOBS_ENABLED")
    monkeypatch.delenv("DIRECTORY_SYNC_ENABLED")
    composition.reload_settings()


pytestmark = pytest.mark.usefixtures("default_sources")


def sds_requests(tenant: Any) -> int:
    return sum(1 for r in tenant.requests if r.path.startswith(LIST_PATH))


async def health(app: App) -> tuple[int, dict[str, dict[str, Any]]]:
    reply = await app.health()
    return reply.status, {s["source"]: s for s in reply.json()["sources"]}


async def test_a_retired_sds_with_everything_else_healthy_is_200(app: App, tenant: Any) -> None:
    tenant.add_profile(SEED_ID, status=dict(SEED))
    await app.poll()
    tenant.refuse_source("education", status=400, code="BadRequest", message=RETIRED)
    await app.poll()
    status, sources = await health(app)
    assert status == 200
    sds = sources[SDS]
    assert sds["status"] == "retired"
    assert sds["lastPoll"]["sourceError"] == {
        "status": 400,
        "code": "BadRequest",
        "message": RETIRED,
    }
    first_seen = sds["lastPoll"]["retiredSince"]
    assert {s["status"] for name, s in sources.items() if name != SDS} == {"healthy"}
    assert (await app.get_status(SEED_ID)).status == 200  # cached data stays readable

    tenant.clear_requests()
    await app.poll()
    await app.poll()
    assert sds_requests(tenant) == 0  # asked again once a day, not every poll

    await _a_day_later(SDS)
    await app.poll()
    assert sds_requests(tenant) == 1
    _status, sources = await health(app)
    assert sources[SDS]["lastPoll"]["retiredSince"] == first_seen

    tenant.restore_source("education")  # Graph answers again: it comes back by itself
    await _a_day_later(SDS)
    await app.poll()
    status, sources = await health(app)
    assert (status, sources[SDS]["status"]) == (200, "healthy")
    assert "retiredSince" not in sources[SDS]["lastPoll"]


@pytest.mark.parametrize("status", [404, 410])
async def test_a_listing_that_is_gone_is_a_retirement(app: App, tenant: Any, status: int) -> None:
    tenant.refuse_source("education", status=status, code="NotFound", message="Gone")
    await app.poll()
    code, sources = await health(app)
    assert (code, sources[SDS]["status"]) == (200, "retired")


async def test_a_missing_permission_is_not_a_retirement(app: App, tenant: Any) -> None:
    tenant.refuse_source("education", status=403, code="Forbidden", message="Missing role")
    await app.poll()
    code, sources = await health(app)
    assert (code, sources[SDS]["status"]) == (503, "unavailable")


async def _a_day_later(source: str) -> None:
    """Move the source's last poll back a day, as if a day had passed."""
    store = StatusStore.from_settings(composition.settings())
    try:
        run = (await store.poll_runs.by_source())[source]
        run.started_date_time = "2020-01-01T00:00:00.0000000Z"
        await store.poll_runs.save(run)
    finally:
        await store.close()
