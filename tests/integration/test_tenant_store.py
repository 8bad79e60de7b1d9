"""Tenants in storage, against Azurite: one tenant's rows are read, written and purged alone
(statuses, history, poll records, source state, claims, item logs), the home tenant's keep
the keys they always had, and an upgrade reads the rows the release before tenants wrote
(that release's own code, taken from git and run in a child process) as the home tenant's,
with no step by hand."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import tarfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables.aio import TableServiceClient

from shared.core.changes import StatusChange
from shared.core.tenancy import TenantScope
from shared.core.time import utc_now
from shared.storage.item_logs import LogEntry
from shared.storage.items import create_write
from shared.storage.poll_runs import PollRun
from shared.storage.store import StatusStore
from tests.support.app import App
from tests.support.azurite import Azurite
from tests.support.samples import SEED, profile_entry
from tools.processes import REPO

SDS = "educationSynchronizationProfiles"
JOBS = "synchronizationJobs"
A = TenantScope("1b7d4c2e-0000-4000-8000-00000000000a")
B = TenantScope("1b7d4c2e-0000-4000-8000-00000000000b")
# The last release before tenants: its code writes today's keys (git history has it).
RELEASE_BEFORE_TENANTS = "2bd37de2e5bf42f5da7fd13cd45a6f0a2e85f390"
SP = "5e3c1a2b-4d5f-4a6b-9c7d-8e9f0a1b2c3d"


@pytest.fixture
def home(store: StatusStore) -> StatusStore:
    """The store as the app makes it: the home tenant's."""
    return store


async def fill(store: StatusStore, status: str) -> None:
    """One profile, its change in the history, a poll record, a document, a claim, a log."""
    entry = profile_entry(SEED["id"], status=status)
    assert (await store.statuses.write([create_write(entry.record(), [])])).written == 1
    change = StatusChange(source=SDS, id=SEED["id"], displayName="x", previousStatus=None,
                          status=status, previousHealth=None, health="healthy",
                          changedDateTime=utc_now(), reason=status, path="/x")  # fmt: skip
    await store.history.record([change], [f"event-{status}"])
    await store.poll_runs.save(PollRun(SDS, status, utc_now(), utc_now()))
    await store.state_of(JOBS).save("discovery", {"of": status})
    assert await store.state_of(JOBS).claim("job-1", utc_now(), timedelta(seconds=60)) == 0
    await store.item_logs.add(JOBS, "job-1", [LogEntry(utc_now(), f"log-{status}", {"s": status})])


async def seen_by(store: StatusStore) -> dict[str, Any]:
    item = await store.statuses.get(SDS, SEED["id"])
    changes, _next = await store.history.page(SDS, SEED["id"], top=10, continuation=None)
    logs, _next = await store.item_logs.page(JOBS, "job-1", top=10, continuation=None)
    summaries = await store.statuses.summaries([SDS])
    return {
        "status": item and item.status,
        "partition": item and item.source,
        "history": [c.status for c in changes],
        "runs": [(r.source, r.outcome) for r in await store.poll_runs.read_all()],
        "document": await store.state_of(JOBS).load("discovery"),
        "logs": [log["s"] for log in logs],
        "summaries": [(e.source, e.status) for e in summaries],
        "sources": sorted(await store.statuses.read_source(SDS)),
    }


async def test_each_tenant_reads_and_writes_its_own_rows_alone(home: StatusStore) -> None:
    a, b = home.for_tenant(A), home.for_tenant(B)
    for store, status in ((home, "success"), (a, "error"), (b, "paused")):
        await fill(store, status)
    for store, status in ((home, "success"), (a, "error"), (b, "paused")):
        assert await seen_by(store) == {
            "status": status, "partition": SDS, "history": [status],
            "runs": [(SDS, status)], "document": {"of": status}, "logs": [status],
            "summaries": [(SDS, status)], "sources": [SEED["id"]],
        }  # fmt: skip
    since = utc_now()
    await asyncio.sleep(0.01)
    await a.statuses.write([create_write(profile_entry("second", status="error").record(), [])])
    assert [row[:2] for row in await a.statuses.written_since(since)] == [(SDS, "second")]
    assert await b.statuses.written_since(since) == []
    assert await home.statuses.written_since(since) == []


async def test_purging_a_tenant_leaves_none_of_its_rows_and_all_of_the_others(
    home: StatusStore, azurite: Azurite, table_prefix: str
) -> None:
    a, b = home.for_tenant(A), home.for_tenant(B)
    for store, status in ((home, "success"), (a, "error"), (b, "paused")):
        await fill(store, status)
    counts = await a.purge()
    assert counts == {
        "statuses": 1, "history": 1, "itemLogs": 1, "state": 3, "subscriptions": 0, "events": 0,
        "incidents": 0,
    }  # fmt: skip
    keys = await every_key(azurite, table_prefix)
    assert not [key for key in keys if A.tenant_id in key]
    assert [key for key in keys if B.tenant_id in key]
    assert (await seen_by(home))["status"] == "success"
    assert (await seen_by(b))["status"] == "paused"
    with pytest.raises(ValueError, match="home"):
        await home.purge()


async def every_key(azurite: Azurite, table_prefix: str) -> list[str]:
    """Every PartitionKey and RowKey in the app's tables, as one text per row."""
    found = []
    async with TableServiceClient.from_connection_string(azurite.connection_string) as service:
        async for table in service.list_tables():
            if not table.name.startswith(table_prefix):
                continue
            client = service.get_table_client(table.name)
            async for entity in client.list_entities(select=["PartitionKey", "RowKey"]):
                found.append(f"{table.name} {entity['PartitionKey']} {entity['RowKey']}")
    return found


# -- the upgrade: rows the release before tenants wrote --------------------------------------


def release_before_tenants(into: Path) -> Path:
    """That release's code (``git archive`` of its commit), unpacked under ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", RELEASE_BEFORE_TENANTS, "shared", "functions"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


_OLD_POLL = """
import asyncio
from shared import composition
from shared.polling.engine import poll_all_sources
from shared.webhooks.delivery import deliver_pending

async def main():
    settings, store = composition.services()
    async with composition.graph_client(settings) as graph:
        await poll_all_sources(settings, store, graph)
    await deliver_pending(store, settings)
    await composition.close()

asyncio.run(main())
"""


async def poll_with_release_before_tenants(code: Path, env: dict[str, str]) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _OLD_POLL, cwd=code,
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(code), **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(child.communicate(), 120)
    assert child.returncode == 0, output.decode()


@pytest.fixture
def jobs_too(app_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    from shared import composition

    extra = {"PROVISIONING_JOBS_ENABLED": "true", "PROVISIONING_SERVICE_PRINCIPAL_IDS": SP}
    for name, value in extra.items():
        monkeypatch.setenv(name, value)
    composition.reload_settings()
    return {**app_settings, **extra}


async def test_rows_the_release_before_tenants_wrote_are_the_home_tenants(
    app: App, tenant: Any, jobs_too: dict[str, str], tmp_path: Path
) -> None:
    from tools import graph_tenant as graph

    tenant.add_profile("old", display_name="Old School", status={**SEED, "id": "old",
                                                                  "status": "error"})  # fmt: skip
    job_id = tenant.add_job(SP, template_id="scim", status=graph.quarantined_job_status())
    code = release_before_tenants(tmp_path / "release")
    await poll_with_release_before_tenants(code, jobs_too)
    # Read by today's code, with no step by hand: the same rows, health and history.
    rows = {row["id"]: row for row in (await app.statuses()).json()["value"]}
    assert rows["old"]["health"] == "error"
    assert rows[f"{SP}:{job_id}"]["health"] == "error"
    history = await app.call("get_status_history",
                             route_params={"source": SDS, "id": "old"})  # fmt: skip
    assert [c["status"] for c in history.json()["value"]] == ["error"]
    health = (await app.health()).json()
    assert {s["source"]: s["lastPoll"]["outcome"] for s in health["sources"]} == {
        SDS: "succeeded", JOBS: "succeeded",
    }  # fmt: skip
    # Today's poll of an unchanged tenant goes on from them: nothing rewritten, nothing new.
    before = {row["id"]: row["lastCheckedDateTime"] for row in rows.values()}
    await app.poll()
    after = (await app.statuses()).json()["value"]
    assert sorted(row["id"] for row in after) == sorted(before)
    again = await app.call("get_status_history", route_params={"source": SDS, "id": "old"})
    assert len(again.json()["value"]) == 1
