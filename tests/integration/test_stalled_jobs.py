"""A provisioning job that stopped without saying so: Active, but no successful cycle for
PROVISIONING_STALL_AFTER_HOURS. Judged at every poll, so it turns to error with time alone
and that change is recorded and sent like any other."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from shared import composition
from tests.support.app import App
from tests.support.webhooks import Receiver, history, subscribe
from tools import graph_tenant as graph

JOBS = "synchronizationJobs"
SP = "7c3e2a5a-9d0f-4e4b-8a6c-3f4d5e6f7a01"


@pytest.fixture
def jobs_only(app_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVISIONING_JOBS_ENABLED", "true")
    monkeypatch.setenv("SDS_PROFILES_ENABLED", "false")
    composition.reload_settings()


pytestmark = pytest.mark.usefixtures("jobs_only")


async def job_row(app: App) -> dict[str, Any]:
    (row,) = (await app.statuses(source=JOBS)).json()["value"]
    return row


async def test_a_job_silent_for_26_hours_is_an_error_that_says_so(app: App, tenant: Any) -> None:
    tenant.add_service_principal(SP, display_name="ServiceNow")
    tenant.add_job(SP, template_id="serviceNowOutDelta", status=graph.stalled_job_status(26))
    await app.poll()
    row = await job_row(app)
    assert (row["status"], row["health"]) == ("Active", "error")
    assert row["reason"] == "No successful provisioning cycle for 26 h (expected every 40 min)."


@pytest.mark.usefixtures("insecure_webhooks")
async def test_a_job_turns_stalled_with_time_alone_and_says_so_once(
    app: App, tenant: Any, receiver: Receiver
) -> None:
    tenant.add_service_principal(SP, display_name="ServiceNow")
    # The last successful cycle ended 3 s short of the 24-hour bound.
    status = graph.stalled_job_status(24 - 3 / 3600)
    job_id = tenant.add_job(SP, template_id="serviceNowOutDelta", status=status)
    await subscribe(app, receiver.url)
    await app.poll()
    assert (await job_row(app))["health"] == "healthy"
    await asyncio.sleep(4)
    await app.poll()  # the very same job from Graph
    await app.poll()
    row = await job_row(app)
    assert row["health"] == "error"
    assert row["reason"] == "No successful provisioning cycle for 24 h (expected every 40 min)."
    assert [(e["id"], e["previousHealth"], e["health"]) for e in receiver.events] == [
        (f"{SP}:{job_id}", "healthy", "error")
    ]
    changes = (await history(app, JOBS, f"{SP}:{job_id}"))["value"]
    assert [c["health"] for c in changes] == ["error", "healthy"]
