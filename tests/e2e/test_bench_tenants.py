"""`python -m tools.bench_tenants` at a tiny size, as a smoke test: against its own Azurite,
simulated Graph and local hosts it prints the baseline and the fan-out side by side, every
tenant polled at Graph's floor, no duplicate, and no status rewritten on the unchanged round
(nothing about time is asserted: CI machines are uneven)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.support.environment import clean_env
from tools.processes import REPO

COMMAND = [
    sys.executable, "-m", "tools.bench_tenants",
    "--tenants", "3", "--items", "5", "--latency-ms", "5", "--workers", "1,2",
]  # fmt: skip
HEADINGS = [
    "round s", "items/s/worker", "Graph/tenant", "floor", "reports/10 s", "duplicates",
    "status writes", "peak RSS MB",
]  # fmt: skip
ROUNDS = ("first round (everything new)", "unchanged round (Graph sends the same)")
SIDES = ("baseline (1 invocation)", "fan-out, 1 worker", "fan-out, 2 workers")


def cells(line: str) -> list[str]:
    """A row's label and cells: right-aligned in 15 columns, so two spaces or more apart
    (a cell such as "2 / 5" holds single spaces)."""
    return re.split(r"\s{2,}", line.strip())


def rows_under(lines: list[str], title: str) -> dict[str, list[str]]:
    """The rows printed under a round's title, by label."""
    start = next(index for index, line in enumerate(lines) if line.strip() == title)
    rows = [cells(line) for line in lines[start + 1 : start + 1 + len(SIDES)]]
    return {row[0]: row[1:] for row in rows}


@pytest.mark.e2e
def test_bench_tenants_prints_the_fan_out_beside_the_baseline_and_rewrites_nothing() -> None:
    done = subprocess.run(
        COMMAND, cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=90
    )
    output = done.stdout
    assert done.returncode == 0, f"{output}\n{done.stderr}"
    lines = output.splitlines()
    header = next(line for line in lines if "Graph/tenant" in line and "round s" in line)
    places = [header.index(heading) for heading in HEADINGS]
    assert places == sorted(places), header
    for title in ROUNDS:
        rows = rows_under(lines, title)
        assert set(rows) == set(SIDES), rows
        for side in SIDES:
            assert len(rows[side]) == len(HEADINGS), rows
            column = dict(zip(HEADINGS, rows[side], strict=True))
            assert column["Graph/tenant"] == column["floor"], output
            if side != SIDES[0]:
                assert column["duplicates"] == "0", output
    unchanged = rows_under(lines, ROUNDS[1])
    for side in SIDES:
        assert unchanged[side][HEADINGS.index("status writes")] == "0", output
    assert "Targets (shown, not asserted):" in output
    assert "unchanged round, status rewrites" in output and ": met" in output
