"""Graph's report budget shared through Table Storage: pacers on separate connections (as
separate instances would be) never grant more than the tenant's budget, nor more than the
app's across tenants, in any window; without storage a pacer paces in-process."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from shared import composition
from shared.graph.batch import LocalReportPacer
from shared.sources import load_settings
from shared.storage.report_budget import SharedReportPacer
from shared.storage.store import StatusStore
from tests.support.azurite import Azurite
from tools.processes import azurite_connection_string, free_port

PER_TENANT = 3
PER_APP = 5
WINDOW = 1.0


def instance(connection_string: str, table_prefix: str) -> StatusStore:
    """One instance's store: its own connections to the tables."""
    return StatusStore.from_settings(
        load_settings(
            {"AzureWebJobsStorage": connection_string, "STATUS_TABLE_PREFIX": table_prefix}
        )
    )


def pacer(store: StatusStore, tenant: str, window: float = WINDOW) -> SharedReportPacer:
    return store.report_budget.pacer(
        tenant, fallback=LocalReportPacer(PER_TENANT, window),
        per_tenant=PER_TENANT, per_app=PER_APP, window=window,
    )  # fmt: skip


async def grants(paced: SharedReportPacer, count: int, into: list[float]) -> None:
    for _ in range(count):
        await paced.wait()
        into.append(time.monotonic())


def most_in_any_window(times: list[float]) -> int:
    ordered = sorted(times)
    return max(
        sum(1 for other in ordered[index:] if other < start + WINDOW)
        for index, start in enumerate(ordered)
    )


async def test_instances_sharing_a_tenant_never_grant_more_than_its_budget(
    azurite: Azurite, table_prefix: str
) -> None:
    stores = [instance(azurite.connection_string, table_prefix) for _ in range(3)]
    try:
        granted: list[float] = []
        begin = time.monotonic()
        # Three instances, two polls each (a pacer each, to contend the more): 12 grants.
        await asyncio.gather(
            *(grants(pacer(store, "tenant-a"), 2, granted) for store in stores for _ in range(2))
        )
        elapsed = time.monotonic() - begin
    finally:
        for store in stores:
            await store.close()
    assert len(granted) == 12
    assert most_in_any_window(granted) <= PER_TENANT
    # Four windows' worth (each grant counts window + margin, 1.2 s): paced, not serialised.
    assert elapsed < 3 * 1.2 + 1.5, elapsed


async def test_instances_across_tenants_never_grant_more_than_the_apps_budget(
    azurite: Azurite, table_prefix: str
) -> None:
    stores = [instance(azurite.connection_string, table_prefix) for _ in range(2)]
    tenants = [f"tenant-{index}" for index in range(6)]
    try:
        by_tenant: dict[str, list[float]] = {tenant: [] for tenant in tenants}
        await asyncio.gather(
            *(
                grants(pacer(store, tenant), 1, by_tenant[tenant])
                for store in stores
                for tenant in tenants
            )
        )
    finally:
        for store in stores:
            await store.close()
    every = [at for times in by_tenant.values() for at in times]
    assert len(every) == 12
    assert most_in_any_window(every) <= PER_APP
    assert all(most_in_any_window(times) <= PER_TENANT for times in by_tenant.values())


async def test_a_tenant_waiting_on_the_app_takes_no_place_of_its_own(
    azurite: Azurite, table_prefix: str
) -> None:
    """A tenant kept waiting by a full app window takes no place in its own row meanwhile
    (both rows change in one transaction, or neither does)."""
    store = instance(azurite.connection_string, table_prefix)
    try:
        # A window long enough that the app's fills well within it, on a busy machine too.
        window = 4 * WINDOW
        await pacer(store, "filler-0", window).wait()
        first = time.monotonic()  # the grant that must leave the window before tenant-b's
        for index in range(1, PER_APP):
            await pacer(store, f"filler-{index}", window).wait()
        waiting = pacer(store, "tenant-b", window)
        await waiting.wait()  # the app's window is full: it sleeps until it frees
        assert time.monotonic() - first >= window
        row = await store.report_budget._read("tenant", "tenant-b")
        assert len(row[0]) == 1  # its grant, and no place left over from the refusals
        app = await store.report_budget._read("app")
        # The row keeps the newest, no more than the budget (those that left it are gone).
        assert 1 < len(app[0]) <= PER_APP and max(app[0]) == max(row[0])
    finally:
        await store.close()


async def test_without_storage_a_pacer_paces_in_process(
    table_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = instance(azurite_connection_string(free_port()), table_prefix)
    try:
        paced = store.report_budget.pacer(
            "tenant-c", fallback=LocalReportPacer(2, 0.3), per_tenant=2, per_app=2, window=0.3
        )
        granted: list[float] = []
        with caplog.at_level(logging.WARNING, logger="shared.storage.report_budget"):
            await grants(paced, 3, granted)
    finally:
        await store.close()
    assert granted[2] - granted[0] >= 0.3 - 0.01  # the in-process window holds
    warnings = [r for r in caplog.records if "report budget is unavailable" in r.getMessage()]
    assert len(warnings) == 1  # once per outage, not once a request


async def test_the_composition_root_gives_every_poll_the_shared_pacer(
    app_settings: dict[str, str],
) -> None:
    try:
        settings, store = composition.services()
        async with composition.graph_client(settings) as graph:
            assert isinstance(graph.report_pacer, SharedReportPacer)
            assert graph.report_pacer is composition.report_pacer("home")  # one per tenant
            await graph.report_pacer.wait()
        assert composition.report_pacer("tenant-d") is not composition.report_pacer("home")
        row = await store.report_budget._read("tenant", "home")
        assert len(row[0]) == 1
    finally:
        await composition.close()
