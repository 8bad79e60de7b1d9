"""`python -m tools.bench_tenants` at a tiny size, as a smoke test: it runs against its own
Azurite and simulated tenants, prints its table, the unchanged round rewrites no status, and
the app's round is not slower than polling the tenants one by one (beyond generous noise: CI
machines are uneven, so nothing finer about time is asserted)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.environment import clean_env
from tools.processes import REPO

COMMAND = [
    sys.executable, "-m", "tools.bench_tenants",
    "--tenants", "3", "--items", "5", "--latency-ms", "5",
]  # fmt: skip
HEADINGS = [
    "wall s", "CPU s", "Azurite CPU s", "Graph/tenant", "floor/tenant", "Graph total",
    "Table writes", "status writes", "peak RSS MB",
]  # fmt: skip
ROUNDS = ("round 1 (everything new)", "round 2 (Graph sends the same)")
BASELINE, APP, RATIO = "one by one (baseline)", "4 at a time (app)", "one by one / app"
# tools.bench_common.row: two spaces, the label in 24, then each cell right-aligned in 15.
LABEL_END, CELL = 26, 15


def cells_of(line: str) -> tuple[str, list[str]]:
    cells = line[LABEL_END:]
    return line[:LABEL_END].strip(), [
        cells[start : start + CELL].strip() for start in range(0, len(cells), CELL)
    ]


def rows_under(lines: list[str], title: str) -> dict[str, list[str]]:
    """The three rows printed under a round's title, by label."""
    start = next(index for index, line in enumerate(lines) if line.strip() == title)
    return dict(cells_of(line) for line in lines[start + 1 : start + 4])


@pytest.mark.e2e
def test_bench_tenants_prints_both_sides_and_the_unchanged_round_rewrites_nothing() -> None:
    done = subprocess.run(
        COMMAND, cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=60
    )
    output = done.stdout
    assert done.returncode == 0, f"{output}\n{done.stderr}"
    lines = output.splitlines()
    header = next(line for line in lines if "Graph/tenant" in line)
    assert cells_of(header)[1] == HEADINGS, header
    by_round = [rows_under(lines, title) for title in ROUNDS]
    for rows in by_round:
        assert set(rows) == {BASELINE, APP, RATIO}, rows
        assert all(len(rows[side]) == len(HEADINGS) for side in (BASELINE, APP)), rows
    unchanged = by_round[1]
    for side in (BASELINE, APP):
        assert unchanged[side][HEADINGS.index("status writes")] == "0", output
    wall = HEADINGS.index("wall s")
    for rows in by_round:
        baseline, app = float(rows[BASELINE][wall]), float(rows[APP][wall])
        assert app <= baseline * 1.5 + 0.5, output
    assert "Targets (shown, not asserted):" in output
