"""The health mapping: every row of HEALTH_RULES, the fallback, and the sentences."""

from __future__ import annotations

from typing import Any

import pytest

from shared.core.health import MAX_REASON_LENGTH, Assessment, Health, at_time, since_kept
from shared.sources import HEALTH_RULES, source_named

SDS_PROFILES = "educationSynchronizationProfiles"
PROVISIONING_JOBS = "synchronizationJobs"
INDUSTRY_DATA_RUNS = "industryDataRuns"
DIRECTORY_SYNC = "directorySynchronization"
# When a poll read the item, and the default bounds: what time-based rules are judged by.
NOW = "2026-11-27T12:00:00.0000000Z"
JOB_CONTEXT = {"checkedDateTime": NOW, "stallAfterHours": 24}
ORG_CONTEXT = {"checkedDateTime": NOW, "staleAfterMinutes": 120}


def assess(source: str, document: dict[str, Any], context: Any = None) -> Assessment:
    return source_named(source).assess(document, context)


def organization(enabled: bool | None, sync: str | None, password: str | None = None) -> dict:
    return {
        "id": "org",
        "displayName": "Contoso",
        "onPremisesSyncEnabled": enabled,
        "onPremisesLastSyncDateTime": sync,
        "onPremisesLastPasswordSyncDateTime": password,
    }


def stopped_after_entry_errors() -> dict[str, Any]:
    """Its last cycle (26 h ago) had entry-level errors, its last success was 30 h ago."""
    document = job("Active", "EntryLevelErrors", countEscrowed=2)
    document["status"]["lastExecution"]["timeEnded"] = "2026-11-26T10:00:00Z"
    document["status"]["lastSuccessfulExecution"] = {
        "state": "Succeeded",
        "timeEnded": "2026-11-26T06:00:00Z",
    }
    return document


def stalled_job(ended: str) -> dict[str, Any]:
    document = job("Active", "Succeeded")
    document["status"]["lastExecution"]["timeEnded"] = ended
    document["status"]["lastSuccessfulExecution"] = {"state": "Succeeded", "timeEnded": ended}
    return document


def job(code: str, state: str | None = "Succeeded", **status: Any) -> dict[str, Any]:
    last = None if state is None else {"state": state, "timeEnded": "2026-11-20T10:00:00.1234567Z"}
    return {
        "id": "job",
        "templateId": "scim",
        "status": {"code": code, "lastExecution": last, **status},
    }


# (source, document, expected health[, context]): one or more cases for every rule, in table
# order.
CASES: list[tuple[Any, ...]] = [
    (SDS_PROFILES, {"status": "error"}, Health.ERROR),
    (SDS_PROFILES, {"status": "validationError"}, Health.ERROR),
    (SDS_PROFILES, {"status": "quarantined"}, Health.ERROR),
    (SDS_PROFILES, {"status": "paused"}, Health.WARNING),
    (SDS_PROFILES, {"status": "success"}, Health.HEALTHY),
    (SDS_PROFILES, {"status": "inProgress"}, Health.HEALTHY),
    (SDS_PROFILES, {"status": "extracting"}, Health.HEALTHY),
    (SDS_PROFILES, {"status": "validating"}, Health.HEALTHY),
    (SDS_PROFILES, {"status": "unknownFutureValue"}, Health.UNKNOWN),
    (SDS_PROFILES, {"status": "reticulatingSplines"}, Health.UNKNOWN),
    (PROVISIONING_JOBS, job("Quarantine", quarantine={"reason": "TooManyDeletes"}), Health.ERROR),
    (PROVISIONING_JOBS, job("Active", "Failed"), Health.ERROR),
    (PROVISIONING_JOBS, stalled_job("2026-11-26T10:00:00Z"), Health.ERROR, JOB_CONTEXT),
    (PROVISIONING_JOBS, stalled_job("2026-11-26T13:00:00Z"), Health.HEALTHY, JOB_CONTEXT),
    (PROVISIONING_JOBS, stopped_after_entry_errors(), Health.ERROR, JOB_CONTEXT),
    (PROVISIONING_JOBS, job("Active", "EntryLevelErrors", countEscrowed=3), Health.WARNING),
    (PROVISIONING_JOBS, job("Paused"), Health.WARNING),
    (PROVISIONING_JOBS, job("NotRun", None), Health.WARNING),
    (PROVISIONING_JOBS, job("NotConfigured", None), Health.WARNING),
    (PROVISIONING_JOBS, job("Active", "Succeeded"), Health.HEALTHY),
    (PROVISIONING_JOBS, job("Active", None), Health.UNKNOWN),
    (PROVISIONING_JOBS, job("SomethingNew"), Health.UNKNOWN),
    (PROVISIONING_JOBS, {"id": "job", "status": None}, Health.UNKNOWN),
    (DIRECTORY_SYNC, organization(True, "2026-11-27T08:48:00Z"), Health.ERROR, ORG_CONTEXT),
    (DIRECTORY_SYNC, organization(True, None), Health.ERROR, ORG_CONTEXT),
    (
        DIRECTORY_SYNC,
        organization(True, "2026-11-27T11:50:00Z", "2026-11-27T06:00:00Z"),
        Health.WARNING,
        ORG_CONTEXT,
    ),
    (DIRECTORY_SYNC, organization(False, "2026-10-01T00:00:00Z"), Health.WARNING, ORG_CONTEXT),
    (
        DIRECTORY_SYNC,
        organization(True, "2026-11-27T11:50:00Z", "2026-11-27T11:49:00Z"),
        Health.HEALTHY,
        ORG_CONTEXT,
    ),
    (DIRECTORY_SYNC, organization(None, None), Health.HEALTHY, ORG_CONTEXT),
    (DIRECTORY_SYNC, {"id": "org"}, Health.UNKNOWN, ORG_CONTEXT),
    (INDUSTRY_DATA_RUNS, {"status": "failed"}, Health.ERROR),
    (INDUSTRY_DATA_RUNS, {"status": "completedWithErrors"}, Health.ERROR),
    (INDUSTRY_DATA_RUNS, {"status": "completedWithWarnings"}, Health.WARNING),
    (INDUSTRY_DATA_RUNS, {"status": "running"}, Health.HEALTHY),
    (INDUSTRY_DATA_RUNS, {"status": "completed"}, Health.HEALTHY),
    (INDUSTRY_DATA_RUNS, {"status": "unknownFutureValue"}, Health.UNKNOWN),
]


@pytest.mark.parametrize(
    ("source", "document", "expected", "context"), [(*c, None)[:4] for c in CASES]
)
def test_each_status_maps_to_its_health(
    source: str, document: dict[str, Any], expected: Health, context: Any
) -> None:
    health, reason = assess(source, document, context)
    assert health is expected
    assert reason and reason.endswith((".", "\N{HORIZONTAL ELLIPSIS}"))


def test_every_rule_is_exercised_by_a_case() -> None:
    for rule in HEALTH_RULES:
        matching = [
            case
            for case in CASES
            if case[0] == rule.source and rule.matches(case[1], (*case, {})[3] or {})
        ]
        assert matching, f"no case for {rule.source}: {rule.condition}"


def test_a_quarantine_outranks_a_good_last_run() -> None:
    document = job(
        "Quarantine", "Succeeded", quarantine={"reason": "EncounteredBaseEscrowThreshold"}
    )
    assert assess(PROVISIONING_JOBS, document)[0] is Health.ERROR


def test_the_quarantine_reason_reads_like_the_issue_says() -> None:
    quarantine = {
        "reason": "EncounteredEscrowProportionThreshold",
        "error": {
            "code": "SystemForCrossDomainIdentityManagementServiceIncompatible",
            "message": "The SCIM endpoint is not compatible.",
            "tenantActionable": True,
        },
    }
    _health, reason = assess(PROVISIONING_JOBS, job("Quarantine", quarantine=quarantine))
    assert reason == (
        "Quarantined: EncounteredEscrowProportionThreshold (more than 40% of exports failed). "
        "The SCIM endpoint is not compatible."
    )


def test_a_failed_run_says_what_blocked_it() -> None:
    run = {
        "status": "failed",
        "blockingError": {"code": "sourceUnreachable", "message": "SFTP down"},
    }
    assert assess(INDUSTRY_DATA_RUNS, run) == (
        Health.ERROR,
        "Run failed: sourceUnreachable: SFTP down.",
    )


def test_a_run_with_errors_counts_them_from_its_statistics() -> None:
    statistics = {"inboundTotals": {"errors": 12, "warnings": 3}}
    health, reason = assess(INDUSTRY_DATA_RUNS, {"status": "completedWithErrors"}, statistics)
    assert (health, reason) == (Health.ERROR, "Completed with 12 errors and 3 warnings.")
    assert (
        assess(INDUSTRY_DATA_RUNS, {"status": "completedWithErrors"})[1] == "Completed with errors."
    )


def test_an_sds_reason_is_one_line_and_bounded() -> None:
    status = {"status": "error", "errorCount": 4, "statusMessage": "Line 1\r\nLine 2"}
    assert assess(SDS_PROFILES, status)[1] == "Sync failed with 4 errors: Line 1 Line 2."
    long = {"status": "error", "statusMessage": "x" * 50_000}
    reason = assess(SDS_PROFILES, long)[1]
    assert len(reason) == MAX_REASON_LENGTH
    assert reason.endswith("\N{HORIZONTAL ELLIPSIS}")


def test_entry_level_errors_say_how_many_entries_were_escrowed() -> None:
    document = job("Active", "EntryLevelErrors", countEscrowed=None)
    document["status"]["lastExecution"]["countEscrowed"] = 17
    assert assess(PROVISIONING_JOBS, document)[1] == (
        "Last run finished with entry-level errors: 17 entries escrowed."
    )


def test_a_job_without_a_successful_cycle_for_a_day_says_for_how_long() -> None:
    health, reason = assess(PROVISIONING_JOBS, stalled_job("2026-11-26T10:00:00Z"), JOB_CONTEXT)
    assert health is Health.ERROR
    assert reason == "No successful provisioning cycle for 26 h (expected every 40 min)."
    # A job whose cycles stopped after one with entry-level errors has stalled too: it says
    # how long since the last success.
    stopped = assess(PROVISIONING_JOBS, stopped_after_entry_errors(), JOB_CONTEXT)
    assert stopped == (
        Health.ERROR,
        "No successful provisioning cycle for 30 h (expected every 40 min).",
    )
    # Without the time of a poll (a document alone), time cannot be judged.
    assert assess(PROVISIONING_JOBS, stalled_job("2026-11-26T10:00:00Z"))[0] is Health.HEALTHY


def test_a_jobs_reason_names_its_top_provisioning_error() -> None:
    summary = {
        "failedObjects": 7,
        "identityTypes": ["User"],
        "topErrors": [
            {"errorCode": "AzureActiveDirectoryCannotUpdateObjectsMasteredOnPremises", "count": 5},
            {"errorCode": "AzureActiveDirectoryInvalidDomain", "count": 2},
        ],
    }
    context = JOB_CONTEXT | {"failures": summary}
    document = job("Active", "EntryLevelErrors", countEscrowed=7)
    document["status"]["lastExecution"]["timeEnded"] = "2026-11-27T11:30:00Z"  # cycles run
    health, reason = assess(PROVISIONING_JOBS, document, context)
    assert health is Health.WARNING
    assert reason.endswith(
        " 7 users failed to provision in the last 24 h, mostly "
        "AzureActiveDirectoryCannotUpdateObjectsMasteredOnPremises."
    )


def test_connect_reasons_say_how_long_ago_in_words() -> None:
    stale = organization(True, "2026-11-27T08:48:00Z")
    assert assess(DIRECTORY_SYNC, stale, ORG_CONTEXT)[1] == (
        "Last directory sync 3 h 12 min ago (expected every 30 min): Entra Connect may have "
        "stopped syncing."
    )
    recent = organization(True, "2026-11-27T11:48:00Z", "2026-11-27T11:48:00Z")
    assert assess(DIRECTORY_SYNC, recent, ORG_CONTEXT) == (
        Health.HEALTHY,
        "Last directory sync 12 min ago (expected every 30 min).",
    )
    passwords = organization(True, "2026-11-27T11:48:00Z", "2026-11-25T11:00:00Z")
    assert assess(DIRECTORY_SYNC, passwords, ORG_CONTEXT)[1] == (
        "Last directory sync 12 min ago (expected every 30 min), but the last password hash "
        "sync was 2 d 1 h ago."
    )
    cloud = assess(DIRECTORY_SYNC, organization(None, None), ORG_CONTEXT)
    assert cloud == (
        Health.HEALTHY,
        "Cloud-only tenant: directory synchronization (Entra Connect) is not enabled.",
    )


def test_the_readme_shows_the_same_mapping() -> None:
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    rows = [f"| `{rule.source}` | {rule.condition} | {rule.health} |" for rule in HEALTH_RULES]
    table = "\n".join(
        [
            "| source | when | health |",
            "| --- | --- | --- |",
            *rows,
            "| any | anything else | unknown |",
        ]
    )
    assert table in readme


# -- when Graph says the condition began ------------------------------------------------------


def began(source: str, document: dict[str, Any], context: Any = None) -> str | None:
    return source_named(source).began(document, context)


def quarantined(**quarantine: Any) -> dict[str, Any]:
    return job("Quarantine", "Failed", quarantine={"reason": "TooManyDeletes", **quarantine})


def failed_at(state: str, began_at: Any) -> dict[str, Any]:
    document = job("Active", state)
    document["status"]["lastExecution"]["timeBegan"] = began_at
    return document


# (source, document, context, Graph's time of when the health's condition began).
BEGAN_CASES: list[tuple[str, dict[str, Any], Any, str | None]] = [
    # A quarantine began when it was first imposed in its series (currentBegan moves each
    # time Graph evaluates it again); without a series, when it was imposed.
    (
        PROVISIONING_JOBS,
        quarantined(seriesBegan="2026-11-27T09:00:00Z", currentBegan="2026-11-27T11:00:00Z"),
        None,
        "2026-11-27T09:00:00Z",
    ),
    (PROVISIONING_JOBS, quarantined(currentBegan="2026-11-27T09:00:31.1234567Z"), None,
     "2026-11-27T09:00:31.1234567Z"),
    (PROVISIONING_JOBS, quarantined(seriesBegan=None, currentBegan=None), None, None),
    (PROVISIONING_JOBS, failed_at("Failed", "2026-11-27T11:52:00Z"), None, "2026-11-27T11:52:00Z"),
    (PROVISIONING_JOBS, failed_at("EntryLevelErrors", "2026-11-27T11:45:00Z"), None,
     "2026-11-27T11:45:00Z"),
    # Stalled: since its last successful cycle ended, even after cycles with entry errors.
    (PROVISIONING_JOBS, stalled_job("2026-11-26T10:00:00Z"), JOB_CONTEXT, "2026-11-26T10:00:00Z"),
    (PROVISIONING_JOBS, stopped_after_entry_errors(), JOB_CONTEXT, "2026-11-26T06:00:00Z"),
    # What Graph says is no time, or nothing of the condition: no Graph time.
    (PROVISIONING_JOBS, failed_at("Failed", "String (timestamp)"), None, None),
    (PROVISIONING_JOBS, failed_at("Failed", 1764241920), None, None),
    (PROVISIONING_JOBS, job("Paused"), None, None),
    (PROVISIONING_JOBS, stalled_job("2026-11-27T11:00:00Z"), JOB_CONTEXT, None),  # healthy
    (PROVISIONING_JOBS, job("SomethingNew"), None, None),
    (DIRECTORY_SYNC, organization(True, "2026-11-27T08:48:00Z"), ORG_CONTEXT,
     "2026-11-27T08:48:00Z"),
    (DIRECTORY_SYNC, organization(True, None), ORG_CONTEXT, None),  # never synced
    (DIRECTORY_SYNC, organization(True, "2026-11-27T11:50:00Z", "2026-11-27T06:00:00Z"),
     ORG_CONTEXT, "2026-11-27T06:00:00Z"),
    (DIRECTORY_SYNC, organization(False, "2026-10-01T00:00:00Z"), ORG_CONTEXT, None),
    (DIRECTORY_SYNC, organization(True, "2026-11-27T11:50:00Z"), ORG_CONTEXT, None),
    (INDUSTRY_DATA_RUNS, {"status": "failed", "startDateTime": "2026-11-27T08:00:00Z"}, None,
     "2026-11-27T08:00:00Z"),
    (INDUSTRY_DATA_RUNS, {"status": "completedWithWarnings", "startDateTime": "2026-11-27T09:00Z"},
     None, "2026-11-27T09:00Z"),
    (INDUSTRY_DATA_RUNS, {"status": "running", "startDateTime": "2026-11-27T11:00:00Z"}, None,
     "2026-11-27T11:00:00Z"),
    (INDUSTRY_DATA_RUNS, {"status": "unknownFutureValue", "startDateTime": NOW}, None, None),
    (SDS_PROFILES, {"status": "error", "lastActivityDateTime": NOW}, None, None),
]  # fmt: skip


@pytest.mark.parametrize(("source", "document", "context", "expected"), BEGAN_CASES)
def test_graph_says_when_the_condition_of_some_healths_began(
    source: str, document: dict[str, Any], context: Any, expected: str | None
) -> None:
    assert began(source, document, context) == expected


def test_a_rule_with_a_time_of_graphs_is_exercised_by_a_case() -> None:
    for rule in HEALTH_RULES:
        if rule.began is None:
            continue
        dated = [
            case
            for case in BEGAN_CASES
            if case[0] == rule.source and case[3] and rule.matches(case[1], case[2] or {})
        ]
        assert dated, f"no dated case for {rule.source}: {rule.condition}"


def test_the_time_kept_is_the_earliest_graph_gave_while_the_health_held() -> None:
    first_seen = "2026-11-27T10:05:00.0000000Z"
    # Graph's time of it, before the app saw the health.
    assert since_kept("2026-11-27T10:00:00Z", None, first_seen) == "2026-11-27T10:00:00Z"
    # The next failed cycle (or a quarantine evaluated again) does not move it.
    assert (
        since_kept("2026-11-27T10:40:00Z", "2026-11-27T10:00:00Z", first_seen)
        == "2026-11-27T10:00:00Z"
    )
    # A time after the app's own first sighting is a later spell, not the beginning.
    assert since_kept("2026-11-27T10:40:00Z", None, first_seen) == ""
    # Compared as times, not text (Graph varies the fractional digits).
    assert (
        since_kept("2026-11-27T09:59:59.9Z", "2026-11-27T10:00:00.0000000Z", first_seen)
        == "2026-11-27T09:59:59.9Z"
    )
    # Nothing from Graph, or nothing that is a time.
    assert since_kept(None, None, first_seen) == ""
    assert since_kept("yesterday", "", first_seen) == ""
    # A row without healthSince (cached before it was kept) bounds nothing.
    assert since_kept("2026-11-27T10:40:00Z", None, "") == "2026-11-27T10:40:00Z"


# -- times in reasons: human words, never a raw ISO timestamp --------------------------------


def test_a_time_in_a_reason_is_said_as_a_person_says_it() -> None:
    today, earlier = "2026-11-27T09:48:12.1234567Z", "2026-11-26T10:48:12.1234567Z"
    # The clock form (stable: the same moment, the same words, at every poll).
    assert at_time(today) == "at 09:48 UTC on 27 Nov"
    assert at_time(earlier, JOB_CONTEXT) == "at 10:48 UTC on 26 Nov"
    # With the age when checked, where the age is the point.
    assert at_time(today, JOB_CONTEXT, ago=True) == "at 09:48 UTC, 2 h 11 min ago"
    assert at_time(earlier, JOB_CONTEXT, ago=True) == "on 26 Nov at 10:48 UTC, 1 d 1 h ago"
    # No context time: the clock form; not a timestamp: nothing.
    assert at_time(today, {}, ago=True) == "at 09:48 UTC on 27 Nov"
    assert at_time(today, None, ago=True) == "at 09:48 UTC on 27 Nov"
    assert at_time("yesterday") is None
    assert at_time(None) is None
    assert at_time("2026-11-27T11:48:00+02:00") == "at 09:48 UTC on 27 Nov"


def test_a_run_says_when_it_started_or_ended_in_words() -> None:
    running = {"status": "running", "startDateTime": "2026-11-27T05:48:12.1234567Z"}
    assert assess(INDUSTRY_DATA_RUNS, running)[1] == "Running, started at 05:48 UTC on 27 Nov."
    completed = {"status": "completed", "endDateTime": "2026-11-21T05:48:12.1234567Z"}
    assert assess(INDUSTRY_DATA_RUNS, completed)[1] == "Completed at 05:48 UTC on 21 Nov."
    assert assess(INDUSTRY_DATA_RUNS, {"status": "completed"})[1] == "Completed."


def test_a_succeeded_jobs_reason_says_when_in_words() -> None:
    document = job("Active", "Succeeded")
    document["status"]["lastExecution"]["timeEnded"] = "2026-11-27T11:48:12.1234567Z"
    reason = assess(PROVISIONING_JOBS, document, JOB_CONTEXT)[1]
    assert reason == "Active; the last run succeeded at 11:48 UTC on 27 Nov."


def test_a_quarantine_says_since_when_without_an_age() -> None:
    quarantine = {
        "reason": "QuarantinedOnDemand",
        "currentBegan": "2026-11-27T05:48:12.1234567Z",
        "seriesBegan": "2026-11-21T05:48:12.1234567Z",
    }
    reason = assess(PROVISIONING_JOBS, job("Quarantine", quarantine=quarantine), JOB_CONTEXT)[1]
    assert reason == (
        "Quarantined since 05:48 UTC on 21 Nov: QuarantinedOnDemand (an administrator "
        "quarantined the job)."
    )


def test_no_reason_carries_a_raw_timestamp() -> None:
    stamp = "2026-11-27T05:48:12.1234567Z"
    documents = [
        (INDUSTRY_DATA_RUNS, {"status": "running", "startDateTime": stamp}),
        (INDUSTRY_DATA_RUNS, {"status": "completed", "endDateTime": stamp}),
        (
            PROVISIONING_JOBS,
            job("Quarantine", quarantine={"reason": "Unknown", "seriesBegan": stamp}),
        ),
        (PROVISIONING_JOBS, job("Active", "Succeeded")),
    ]
    documents[-1][1]["status"]["lastExecution"]["timeEnded"] = stamp
    for source, document in documents:
        reason = assess(source, document, JOB_CONTEXT)[1]
        assert "2026-" not in reason and "T05" not in reason, reason


def test_a_connect_sync_near_its_bound_is_getting_late_but_healthy() -> None:
    late = organization(True, "2026-11-27T10:03:00Z")  # 1 h 57 min: past 75% of 2 h
    assert assess(DIRECTORY_SYNC, late, ORG_CONTEXT) == (
        Health.HEALTHY,
        "Last directory sync 1 h 57 min ago (expected every 30 min): getting late; an error "
        "past 2 h.",
    )
    on_time = organization(True, "2026-11-27T10:31:00Z")  # 1 h 29 min: not yet 75%
    assert assess(DIRECTORY_SYNC, on_time, ORG_CONTEXT)[1] == (
        "Last directory sync 1 h 29 min ago (expected every 30 min)."
    )
