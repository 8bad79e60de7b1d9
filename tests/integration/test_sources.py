"""Provisioning jobs and Industry Data runs beside School Data Sync: polled from the simulated
tenant over real HTTP into Azurite, served by the real handlers, one health model."""

from __future__ import annotations

import re
from typing import Any

import pytest

from shared import composition
from tests.support.app import App
from tests.support.samples import SEED, SEED_ID, SYNC_STATUS_EXAMPLE
from tools import graph_tenant as graph
from tools.local_host.routes import compile_template

SP_A = "4f0c5b52-1f7a-4d59-9a53-0b1f0e7d2a11"
SP_B = "0b9e6a1c-8d2f-4e3a-9b7c-5d6e7f8a9b0c"
JOBS_PATH = "/v1.0/servicePrincipals/{}/synchronization/jobs"
RUNS_PATH = "/beta/external/industryData/runs"


@pytest.fixture
def all_sources(app_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """All three sources on: two service principals, the newest 3 runs."""
    monkeypatch.setenv("PROVISIONING_JOBS_ENABLED", "true")
    monkeypatch.setenv("PROVISIONING_SERVICE_PRINCIPAL_IDS", f"{SP_A},{SP_B}")
    monkeypatch.setenv("INDUSTRY_DATA_RUNS_ENABLED", "true")
    monkeypatch.setenv("INDUSTRY_DATA_RUNS_KEPT", "3")
    composition.reload_settings()


pytestmark = pytest.mark.usefixtures("all_sources")


def without_context(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "@odata.context"}


async def rows_by_id(app: App, **params: str) -> dict[str, dict[str, Any]]:
    reply = await app.statuses(**params)
    assert reply.status == 200, reply.body
    return {row["id"]: row for row in reply.json()["value"]}


async def health_by_source(app: App) -> tuple[int, dict[str, dict[str, Any]]]:
    reply = await app.health()
    return reply.status, {source["source"]: source for source in reply.json()["sources"]}


async def test_the_synchronization_status_page_example_round_trips(app: App, tenant: Any) -> None:
    job_id = tenant.add_job(SP_A, "scim.example", status=SYNC_STATUS_EXAMPLE)
    await app.poll()
    reply = await app.job(SP_A, job_id)
    assert reply.status == 200
    body = reply.json()
    sent = tenant.get_job(SP_A, job_id)
    assert without_context(body) == sent
    assert list(body["status"]) == list(SYNC_STATUS_EXAMPLE)  # Graph's order, untouched
    assert body["@odata.context"].endswith(
        f"/v1.0/$metadata#servicePrincipals('{SP_A}')/synchronization/jobs/$entity"
    )


async def test_a_real_looking_job_keeps_int64_and_seven_digit_times(app: App, tenant: Any) -> None:
    status = graph.quarantined_job_status()
    status["countSuccessiveCompleteFailures"] = 2**63 - 1
    job_id = tenant.add_job(SP_A, status=status)
    await app.poll()
    reply = await app.job(SP_A.upper(), job_id)  # object ids match in any case, as in Graph
    assert without_context(reply.json()) == tenant.get_job(SP_A, job_id)
    assert b"9223372036854775807" in reply.body
    began = status["quarantine"]["currentBegan"]
    assert len(began.rpartition(".")[2]) == len("1234567Z")
    assert f'"currentBegan": "{began}"'.encode() in reply.body


async def test_the_jobs_route_lists_a_service_principals_jobs(app: App, tenant: Any) -> None:
    first = tenant.add_job(SP_A, "scim.1")
    second = tenant.add_job(SP_A, "scim.2", status=graph.job_status("Paused"))
    tenant.add_job(SP_B, "other.1")
    await app.poll()
    body = (await app.jobs(SP_A)).json()
    assert [job["id"] for job in body["value"]] == [first, second]
    assert body["value"][1] == tenant.get_job(SP_A, second)
    assert (await app.jobs("9d3c3bd4-0000-4000-8000-000000000000")).status == 404
    assert (await app.jobs("not-a-guid")).status == 400
    assert (await app.job(SP_A, "scim.missing")).status == 404


# Every row of the mapping, driven through the tenant, the poll and /api/statuses.
SDS_CASES = {
    "error": "error",
    "validationError": "error",
    "quarantined": "error",
    "paused": "warning",
    "success": "healthy",
    "inProgress": "healthy",
    "extracting": "healthy",
    "validating": "healthy",
    "unknownFutureValue": "unknown",
}
JOB_CASES = {
    "quarantine": (graph.quarantined_job_status, "error"),
    "failed": (graph.failed_job_status, "error"),
    "escrows": (graph.entry_level_errors_job_status, "warning"),
    "paused": (lambda: graph.job_status("Paused"), "warning"),
    "notrun": (lambda: graph.job_status("NotRun"), "warning"),
    "notconfigured": (lambda: graph.job_status("NotConfigured"), "warning"),
    "active": (graph.healthy_job_status, "healthy"),
    "future": (lambda: graph.job_status("Rebalancing"), "unknown"),
}
RUN_CASES = {
    "failed": "error",
    "completedWithErrors": "error",
    "completedWithWarnings": "warning",
    "running": "healthy",
    "completed": "healthy",
    "unknownFutureValue": "unknown",
}


async def test_every_mapping_row_shows_in_statuses(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INDUSTRY_DATA_RUNS_KEPT", str(len(RUN_CASES)))
    composition.reload_settings()
    for status in SDS_CASES:
        tenant.add_profile(
            f"sds-{status}", status={**SEED, "id": f"sds-{status}", "status": status}
        )
    tenant.add_service_principal(SP_A, display_name="Canvas LMS")
    for name, (builder, _health) in JOB_CASES.items():
        tenant.add_job(SP_A, f"job.{name}", status=builder())
    for index, status in enumerate(RUN_CASES):
        tenant.add_run(
            f"run-{status}",
            status=status,
            start=f"2026-11-2{index}T08:00:00.1234567Z",
            statistics=graph.run_statistics(errors=2, warnings=1),
        )
    await app.poll()
    rows = await rows_by_id(app, **{"$top": "999"})
    for status, health in SDS_CASES.items():
        assert rows[f"sds-{status}"]["health"] == health, status
    for name, (_builder, health) in JOB_CASES.items():
        assert rows[f"{SP_A}:job.{name}"]["health"] == health, name
    for status, health in RUN_CASES.items():
        assert rows[f"run-{status}"]["health"] == health, status
    assert len(rows) == len(SDS_CASES) + len(JOB_CASES) + len(RUN_CASES)

    quarantined = rows[f"{SP_A}:job.quarantine"]
    head, _, detail = quarantined["reason"].partition("failed).")
    assert re.fullmatch(  # the time in words (the fake tenant's quarantine began hours ago)
        r"Quarantined since \d\d:\d\d UTC on \d{1,2} [A-Z][a-z]{2}: "
        r"EncounteredEscrowProportionThreshold \(more than 40% of exports ",
        head,
    ), quarantined["reason"]
    assert detail
    assert quarantined["status"] == "Quarantine"
    # Its service principal's name and the kind of sync its template makes.
    assert quarantined["displayName"] == "Canvas LMS: SCIM app provisioning"
    assert (
        quarantined["path"] == f"/api/servicePrincipals/{SP_A}/synchronization/jobs/job.quarantine"
    )
    assert rows["run-completedWithErrors"]["reason"] == "Completed with 2 errors and 1 warnings."
    assert (
        rows["sds-paused"]["path"]
        == "/api/education/synchronizationProfiles/sds-paused/profileStatus"
    )
    for row in rows.values():
        assert set(row) == {
            "tenantId", "source", "id", "displayName", "status", "health", "healthSince",
            "sinceDateTime", "sinceFrom", "lastCheckedDateTime", "reason", "pollError", "path",
        }  # fmt: skip
        assert row["healthSince"] and row["lastCheckedDateTime"] and row["reason"]
        assert row["sinceFrom"] in ("graph", "firstSeen") and row["sinceDateTime"]
        assert row["pollError"] is None


async def test_statuses_filter_by_health_and_source_and_page(app: App, tenant: Any) -> None:
    tenant.add_profile("sds-ok")
    tenant.add_profile("sds-bad", status={**SEED, "id": "sds-bad", "status": "error"})
    tenant.add_job(SP_A, "job.bad", status=graph.failed_job_status())
    tenant.add_job(SP_A, "job.ok")
    tenant.add_run("run-bad", status="failed", blocking_error=graph.blocking_error())
    await app.poll()
    broken = await rows_by_id(app, health="error,warning")
    assert set(broken) == {"sds-bad", f"{SP_A}:job.bad", "run-bad"}
    assert set(await rows_by_id(app, source="synchronizationJobs")) == {
        f"{SP_A}:job.bad",
        f"{SP_A}:job.ok",
    }
    first = await app.statuses(**{"$top": "2", "health": "error"})
    page = first.json()
    assert len(page["value"]) == 2
    link = page["@odata.nextLink"]
    assert "health=error" in link and "%24top=2" in link
    token = link.partition("%24skiptoken=")[2].partition("&")[0]
    rest = (await app.statuses(**{"$top": "2", "health": "error", "$skiptoken": token})).json()
    ids = [row["id"] for row in page["value"] + rest["value"]]
    assert sorted(ids) == sorted(broken)
    for params in ({"health": "broken"}, {"source": "sds"}, {"health": ""}, {"$top": "0"}):
        reply = await app.statuses(**params)
        assert reply.status == 400, params
        assert reply.json()["error"]["code"] == "BadRequest"


async def test_health_since_moves_only_when_health_changes(app: App, tenant: Any) -> None:
    tenant.add_job(SP_A, "job.1", status=graph.quarantined_job_status())
    await app.poll()
    first = (await rows_by_id(app))[f"{SP_A}:job.1"]
    tenant.set_job_status(SP_A, "job.1", countSuccessiveCompleteFailures=7)  # still quarantined
    await app.poll()
    same = (await rows_by_id(app))[f"{SP_A}:job.1"]
    assert same["health"] == "error"
    assert same["healthSince"] == first["healthSince"]
    assert same["lastCheckedDateTime"] > first["lastCheckedDateTime"]
    tenant.add_job(SP_A, "job.1", status=graph.healthy_job_status())
    await app.poll()
    healed = (await rows_by_id(app))[f"{SP_A}:job.1"]
    assert healed["health"] == "healthy"
    assert healed["healthSince"] > first["healthSince"]


async def test_a_patch_moves_a_profiles_health(app: App, tenant: Any) -> None:
    tenant.add_profile(SEED_ID, status=dict(SEED))
    await app.poll()
    assert (await rows_by_id(app))[SEED_ID]["health"] == "healthy"
    await app.patch_status(SEED_ID, {"status": "quarantined", "statusMessage": "held by admin"})
    row = (await rows_by_id(app))[SEED_ID]
    assert (row["health"], row["status"]) == ("error", "quarantined")
    assert row["reason"] == "Quarantined: held by admin."
    await app.poll()  # Graph did not change: the PATCH, and its health, stay
    assert (await rows_by_id(app))[SEED_ID]["health"] == "error"


async def test_a_run_goes_from_running_to_errors_and_its_statistics_are_read_once(
    app: App, tenant: Any
) -> None:
    run_id = tenant.add_run("run-1", status="running", start="2026-11-21T08:00:00.1234567Z")
    await app.poll()
    assert (await app.run(run_id)).json()["status"] == "running"
    assert (await app.run_statistics(run_id)).status == 404  # nothing to explain yet
    tenant.set_run(run_id, status="completedWithErrors", endDateTime="2026-11-21T08:41:07.7654321Z")
    tenant.set_run_statistics(run_id, graph.run_statistics(errors=5, warnings=2, run_id=run_id))
    await app.poll()
    await app.poll()
    asked = [r for r in tenant.requests if r.path.endswith(f"/runs/{run_id}/getStatistics")]
    assert len(asked) == 1
    body = (await app.run(run_id)).json()
    assert without_context(body) == tenant.get_run(run_id)["run"]
    statistics = (await app.run_statistics(run_id)).json()
    assert without_context(statistics) == tenant.get_run(run_id)["statistics"]
    row = (await rows_by_id(app))[run_id]
    assert (row["health"], row["reason"]) == ("error", "Completed with 5 errors and 2 warnings.")


async def test_run_statistics_answer_in_the_odata_function_form_too(app: App, tenant: Any) -> None:
    # Microsoft's SDKs call getStatistics as the OData function Graph serves beside the short
    # form: .../runs/{id}/microsoft.graph.industryData.getStatistics()
    function = "microsoft.graph.industryData.getStatistics()"
    statistics = graph.run_statistics(errors=3, run_id="run-f")
    tenant.add_run("run-f", status="completedWithErrors", statistics=statistics)
    await app.poll()
    route, methods = app.route_of("get_industry_data_run_statistics_function")
    assert (route, methods) == (f"external/industryData/runs/{{id}}/{function}", ["GET"])
    # Routed as the Functions host routes it (ASP.NET templates: dots and parentheses are
    # literal), by the local host's route table.
    template = compile_template("api", route)
    runs = "/api/external/industryData/runs"
    assert template.match(f"{runs}/run-f/{function}") == {"id": "run-f"}
    assert template.match(f"{runs}/run-f/getStatistics") is None
    long = await app.call("get_industry_data_run_statistics_function", route_params={"id": "run-f"})
    short = await app.run_statistics("run-f")
    assert long.status == short.status == 200
    assert long.json() == short.json()
    assert without_context(long.json()) == tenant.get_run("run-f")["statistics"]
    missing = await app.call("get_industry_data_run_statistics_function", route_params={"id": "x"})
    assert missing.status == 404


async def test_only_the_newest_runs_are_kept(app: App, tenant: Any) -> None:
    starts = ["2026-11-20T20:00:00Z", "2026-11-21T08:00:00.5Z", "2026-11-21T08:00:00Z",
              "2026-11-19T08:00:00Z", "2026-11-21T20:00:00.1234567Z"]  # fmt: skip
    for index, start in enumerate(starts):
        tenant.add_run(f"run-{index}", status="completed", start=start, end=start)
    await app.poll()
    runs = (await app.runs()).json()["value"]
    # Compared as times: 08:00:00.5Z is after 08:00:00Z although "." sorts before "Z".
    assert [run["id"] for run in runs] == ["run-4", "run-1", "run-2"]
    assert (await app.run("run-0")).status == 404


async def test_one_failing_service_principal_keeps_its_jobs_and_the_rest_go_on(
    app: App, tenant: Any
) -> None:
    tenant.add_job(SP_A, "job.a")
    tenant.add_job(SP_B, "job.b")
    await app.poll()
    before = (await rows_by_id(app))[f"{SP_A}:job.a"]
    tenant.remove_job(SP_A, "job.a")  # Graph would not list it, but we cannot hear Graph
    tenant.set_job_status(SP_B, "job.b", code="Paused")
    tenant.add_fault(JOBS_PATH.format(SP_A), status=500, times=None)
    await app.poll()
    rows = await rows_by_id(app)
    kept = rows[f"{SP_A}:job.a"]
    assert kept["pollError"] == "InternalServerError"
    assert kept["lastCheckedDateTime"] == before["lastCheckedDateTime"]
    assert rows[f"{SP_B}:job.b"]["status"] == "Paused"
    assert (await app.job(SP_A, "job.a")).status == 200
    status, sources = await health_by_source(app)
    assert status == 503
    jobs = sources["synchronizationJobs"]
    assert jobs["status"] == "degraded"
    assert jobs["lastPoll"]["errors"] == [{"code": "InternalServerError", "count": 1}]
    assert sources["educationSynchronizationProfiles"]["status"] == "healthy"

    tenant.clear_faults()
    await app.poll()
    assert f"{SP_A}:job.a" not in await rows_by_id(app)  # now the listing says it is gone


async def test_a_refused_source_is_unavailable_and_the_others_go_on(app: App, tenant: Any) -> None:
    """A missing permission counts against health; a retired API is shown apart."""
    tenant.add_profile(SEED_ID, status=dict(SEED))
    tenant.add_job(SP_A, "job.a")
    tenant.add_service_principal(SP_B)  # configured, with no jobs: that is fine
    tenant.add_run("run-1", status="completed")
    await app.poll()
    message = "Resource not found for the segment 'synchronizationProfiles'."
    tenant.refuse_source("education", status=400, code="BadRequest", message=message)
    tenant.refuse_source("industryData", status=403, code="Authorization_RequestDenied",
                         message="Insufficient privileges to complete the operation.")  # fmt: skip
    tenant.set_job_status(SP_A, "job.a", code="Paused")
    await app.poll()
    status, sources = await health_by_source(app)
    assert status == 503
    sds = sources["educationSynchronizationProfiles"]
    assert sds["status"] == "retired"
    assert sds["lastPoll"]["outcome"] == "retired"
    assert sds["lastPoll"]["sourceError"] == {
        "status": 400,
        "code": "BadRequest",
        "message": message,
    }
    runs = sources["industryDataRuns"]
    assert runs["status"] == "unavailable"
    assert runs["lastPoll"]["sourceError"]["code"] == "Authorization_RequestDenied"
    assert sources["synchronizationJobs"]["status"] == "healthy"
    rows = await rows_by_id(app)
    assert rows[f"{SP_A}:job.a"]["status"] == "Paused"
    assert rows[SEED_ID]["status"] == "inProgress"  # cached data kept
    assert rows["run-1"]["status"] == "completed"


async def test_a_service_principal_no_longer_configured_loses_its_jobs(
    app: App, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant.add_job(SP_A, "job.a")
    tenant.add_job(SP_B, "job.b")
    await app.poll()
    monkeypatch.setenv("PROVISIONING_SERVICE_PRINCIPAL_IDS", SP_B)
    composition.reload_settings()
    await app.poll()
    assert set(await rows_by_id(app, source="synchronizationJobs")) == {f"{SP_B}:job.b"}


async def test_health_lists_every_enabled_source(app: App, tenant: Any) -> None:
    status, sources = await health_by_source(app)
    assert status == 503
    assert {name: s["status"] for name, s in sources.items()} == {
        "educationSynchronizationProfiles": "notPolledYet",
        "synchronizationJobs": "notPolledYet",
        "industryDataRuns": "notPolledYet",
    }
    await app.poll()  # neither service principal exists in the tenant
    status, sources = await health_by_source(app)
    assert status == 503
    jobs = sources["synchronizationJobs"]
    assert jobs["status"] == "unavailable"
    assert jobs["lastPoll"]["sourceError"]["code"] == "Request_ResourceNotFound"
    assert sources["educationSynchronizationProfiles"]["status"] == "healthy"
    tenant.add_service_principal(SP_A)
    tenant.add_service_principal(SP_B)
    await app.poll()
    status, sources = await health_by_source(app)
    assert status == 200
    assert {s["status"] for s in sources.values()} == {"healthy"}
