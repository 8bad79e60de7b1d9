"""The fan-out benchmark's arithmetic and printing, without its processes: the busiest
10 s of report requests, the share of tenants whose logs are read, the floors, the marks
and the report over measured figures."""

from __future__ import annotations

import argparse

import pytest

from tools.bench_tenants.cli import worker_counts
from tools.bench_tenants.data import floor_per_tenant, reads_logs, registration, tenant_ids
from tools.bench_tenants.marks import busiest_window, read_mark, write_mark
from tools.bench_tenants.report import report_rounds, report_targets, status_writes


def test_busiest_window_counts_the_most_requests_in_any_10_seconds() -> None:
    assert busiest_window([]) == 0
    assert busiest_window([5.0, 0.0, 9.9, 10.0, 19.95, 20.0]) == 3  # 0, 5, 9.9
    assert busiest_window([float(n) for n in range(100)]) == 10


@pytest.mark.parametrize(("share", "expected"), [(0, 0), (0.25, 25), (0.5, 50), (1, 100)])
def test_the_share_of_tenants_reading_logs_is_spread_evenly(share: float, expected: int) -> None:
    chosen = [index for index in range(100) if reads_logs(index, share)]
    assert len(chosen) == expected
    if share == 0.5:
        assert chosen[:3] == [1, 3, 5]


def test_a_tenant_reading_logs_is_registered_with_its_principal_named() -> None:
    tenant_id = tenant_ids(2)[1]
    body = registration(1, tenant_id, 0.5)
    options = body["sources"]["synchronizationJobs"]["options"]
    assert body["sources"]["synchronizationJobs"]["enabled"] is True
    assert options["PROVISIONING_LOGS_ENABLED"] == "true"
    assert "sources" not in registration(0, tenant_ids(1)[0], 0.5)


def test_floors_are_a_listing_page_and_a_batch_per_20_profiles() -> None:
    assert floor_per_tenant(200) == 11
    assert floor_per_tenant(0) == 1
    assert floor_per_tenant(200, with_logs=True) == 13
    assert floor_per_tenant(200, with_logs=True, first_round=True) == 14


def test_worker_counts_are_a_comma_separated_list() -> None:
    assert worker_counts("1,2,4") == [1, 2, 4]
    for wrong in ("", "0", "1,1", "two"):
        with pytest.raises(argparse.ArgumentTypeError):
            worker_counts(wrong)


def test_a_mark_replaces_the_last_with_the_next_sequence_number(tmp_path) -> None:
    write_mark(tmp_path, "w1", {"cpu_s": 1.0})
    write_mark(tmp_path, "w1", {"cpu_s": 2.0})
    assert read_mark(tmp_path / "w1.json") == {"seq": 2, "cpu_s": 2.0}
    assert read_mark(tmp_path / "missing.json") == {}


def measured(prefix: str, wall: float, status: int, tenants: list[str]) -> dict:
    worker = {
        "pid": 1, "cpu_s": wall / 2, "peak_rss_mb": 100.0,
        "table": {"reads": {}, "writes": {f"{prefix}Statuses": status, f"{prefix}Rounds": 9},
                  "creates": 0},
    }  # fmt: skip
    graph = {
        "requests": dict.fromkeys(tenants, 2), "subrequests": 0, "throttled": 0,
        "parent_requests": 0, "report_times": [0.0, 1.0, 12.0], "cpu_s": 0.1,
    }  # fmt: skip
    return {
        "wall_s": wall, "azurite_cpu_s": 0.1, "graph": graph, "workers": [worker],
        "planned": len(tenants), "outcomes": {"polled": len(tenants)}, "duplicates": 0,
    }  # fmt: skip


def test_the_report_prints_every_configuration_and_the_targets(capsys) -> None:
    args = argparse.Namespace(tenants=2, items=20, latency_ms=40.0, log_share=0.0)
    tenants = tenant_ids(2)
    configs = [
        {"workers": count, "prefix": f"P{count}",
         "rounds": [measured(f"P{count}", 4.0 / max(count, 1), 5, tenants),
                    measured(f"P{count}", 2.0 / max(count, 1), 0, tenants)]}
        for count in (0, 1, 2)
    ]  # fmt: skip
    assert status_writes(configs[1], configs[1]["rounds"][0]) == 5
    report_rounds(configs, args)
    report_targets(configs, args)
    out = capsys.readouterr().out
    for name in ("baseline (1 invocation)", "fan-out, 1 worker", "fan-out, 2 workers"):
        assert name in out
    assert "status rewrites" in out and "(target 0): met" in out
    assert "at most 2 (budget 122): met" in out
    assert "2 workers vs 1: 2.00x" in out
