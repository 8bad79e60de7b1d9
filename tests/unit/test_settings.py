"""Settings: defaults, identity-based storage, and errors that name the setting."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.core.errors import SettingsError
from shared.core.schedule import next_run_after
from shared.sources import load_settings

LOCAL = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}


def test_defaults_match_the_contract() -> None:
    settings = load_settings(LOCAL)
    assert settings.graph_base_url == "https://graph.microsoft.com"
    assert settings.graph_auth == "azure"
    assert settings.poll_schedule == "0 */5 * * * *"
    assert settings.table_prefix == "SyncStatus"
    assert settings.graph_max_concurrency == 16
    assert settings.storage.connection_string == "UseDevelopmentStorage=true"


def test_identity_based_storage_from_the_account_name() -> None:
    settings = load_settings(
        {
            "AzureWebJobsStorage__accountName": "stsync",
            "AzureWebJobsStorage__credential": "managedidentity",
            "AzureWebJobsStorage__clientId": "0000-client",
        }
    )
    assert settings.storage.connection_string is None
    assert settings.storage.table_service_uri == "https://stsync.table.core.windows.net"
    assert settings.storage.use_managed_identity
    assert settings.storage.client_id == "0000-client"


def test_identity_based_storage_from_the_table_uri() -> None:
    uri = "https://stsync.table.core.windows.net/"
    settings = load_settings({"AzureWebJobsStorage__tableServiceUri": uri})
    assert settings.storage.table_service_uri == "https://stsync.table.core.windows.net"
    assert not settings.storage.use_managed_identity


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({}, "AzureWebJobsStorage"),
        ({**LOCAL, "GRAPH_AUTH": "password"}, "GRAPH_AUTH"),
        ({**LOCAL, "GRAPH_BASE_URL": "graph.microsoft.com"}, "GRAPH_BASE_URL"),
        ({**LOCAL, "GRAPH_BASE_URL": "https://graph.microsoft.com/beta"}, "GRAPH_BASE_URL"),
        ({**LOCAL, "STATUS_TABLE_PREFIX": "sync-status"}, "STATUS_TABLE_PREFIX"),
        ({**LOCAL, "STATUS_TABLE_PREFIX": "1Sync"}, "STATUS_TABLE_PREFIX"),
        ({**LOCAL, "GRAPH_MAX_CONCURRENCY": "0"}, "GRAPH_MAX_CONCURRENCY"),
        ({**LOCAL, "GRAPH_MAX_CONCURRENCY": "many"}, "GRAPH_MAX_CONCURRENCY"),
    ],
)
def test_invalid_settings_name_the_setting(values: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(values)


@pytest.mark.parametrize("schedule", ["0 */5 * * * *", "*/30 * * * * *", "0 0 6 * * 1-5"])
def test_ncrontab_schedules_are_accepted(schedule: str) -> None:
    assert load_settings({**LOCAL, "POLL_SCHEDULE": schedule}).poll_schedule == schedule


@pytest.mark.parametrize(
    "schedule", ["every 5 minutes", "0 */5 * * *  * *", "61 * * * * *", "*/5 * * * *"]
)
def test_a_bad_schedule_names_poll_schedule(schedule: str) -> None:
    with pytest.raises(SettingsError, match="POLL_SCHEDULE"):
        load_settings({**LOCAL, "POLL_SCHEDULE": schedule})


def test_next_run_reads_seconds_first() -> None:
    moment = datetime(2026, 11, 22, 5, 41, 13, tzinfo=UTC)
    assert next_run_after("0 */5 * * * *", moment) == datetime(2026, 11, 22, 5, 45, tzinfo=UTC)
    assert next_run_after("30 * * * * *", moment) == datetime(2026, 11, 22, 5, 41, 30, tzinfo=UTC)


SP_A = "4f0c5b52-1f7a-4d59-9a53-0b1f0e7d2a11"
SP_B = "9E1D8C3B-2A4F-4B6E-8C7D-1A2B3C4D5E6F"


def test_sds_discovered_jobs_and_entra_connect_are_polled_by_default() -> None:
    settings = load_settings(LOCAL)
    assert settings.enabled_sources == (
        "educationSynchronizationProfiles",
        "synchronizationJobs",
        "directorySynchronization",
    )
    jobs = settings.source("synchronizationJobs")
    assert jobs.discovers and jobs.service_principal_ids == ()
    assert (jobs.discovery_interval_hours, jobs.stall_after_hours) == (24, 24)
    assert jobs.logs_enabled is False
    assert settings.source("directorySynchronization").stale_after_minutes == 120
    assert settings.source("industryDataRuns").runs_kept == 50


def test_auto_discovers_and_ids_name_the_principals() -> None:
    auto = load_settings(LOCAL | {"PROVISIONING_SERVICE_PRINCIPAL_IDS": " AUTO "})
    assert auto.source("synchronizationJobs").discovers
    named = load_settings(LOCAL | {"PROVISIONING_SERVICE_PRINCIPAL_IDS": SP_A})
    assert not named.source("synchronizationJobs").discovers


def test_named_service_principals_are_kept_lower_case_once_each() -> None:
    settings = load_settings(
        LOCAL | {"PROVISIONING_SERVICE_PRINCIPAL_IDS": f" {SP_A}, {SP_B},, {SP_A}"}
    )
    # Object ids are GUIDs: kept lower-case, once each, in the order given.
    assert settings.source("synchronizationJobs").service_principal_ids == (SP_A, SP_B.lower())
    assert "synchronizationJobs" in settings.enabled_sources


def test_each_source_can_be_switched() -> None:
    settings = load_settings(
        LOCAL
        | {
            "SDS_PROFILES_ENABLED": "false",
            "PROVISIONING_SERVICE_PRINCIPAL_IDS": SP_A,
            "PROVISIONING_JOBS_ENABLED": "false",
            "DIRECTORY_SYNC_ENABLED": "false",
            "INDUSTRY_DATA_RUNS_ENABLED": "true",
            "INDUSTRY_DATA_RUNS_KEPT": "7",
        }
    )
    assert settings.enabled_sources == ("industryDataRuns",)
    assert settings.source("industryDataRuns").runs_kept == 7


@pytest.mark.parametrize(
    ("values", "named"),
    [
        (
            {"PROVISIONING_SERVICE_PRINCIPAL_IDS": "not-a-guid"},
            "PROVISIONING_SERVICE_PRINCIPAL_IDS",
        ),
        ({"PROVISIONING_STALL_AFTER_HOURS": "0"}, "PROVISIONING_STALL_AFTER_HOURS"),
        ({"PROVISIONING_DISCOVERY_INTERVAL_HOURS": "daily"}, "PROVISIONING_DISCOVERY_INTERVAL"),
        ({"PROVISIONING_LOGS_ENABLED": "perhaps"}, "PROVISIONING_LOGS_ENABLED"),
        ({"DIRECTORY_SYNC_STALE_AFTER_MINUTES": "-5"}, "DIRECTORY_SYNC_STALE_AFTER_MINUTES"),
        ({"INDUSTRY_DATA_RUNS_ENABLED": "maybe"}, "INDUSTRY_DATA_RUNS_ENABLED"),
        ({"INDUSTRY_DATA_RUNS_KEPT": "0"}, "INDUSTRY_DATA_RUNS_KEPT"),
        (
            {
                "SDS_PROFILES_ENABLED": "false",
                "PROVISIONING_JOBS_ENABLED": "false",
                "DIRECTORY_SYNC_ENABLED": "false",
            },
            "No source is enabled",
        ),
    ],
)
def test_bad_source_settings_name_the_setting(values: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(LOCAL | values)
