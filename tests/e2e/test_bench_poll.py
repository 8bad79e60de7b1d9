"""`python -m tools.bench_poll` at a small N, as a smoke test: it runs against its own Azurite
and tenant, prints its tables, and the app's nothing-changed poll writes no status. No timing
is asserted: CI machines are too uneven for that."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.environment import clean_env
from tools.processes import REPO

COMMAND = [
    sys.executable, "-m", "tools.bench_poll",
    "--sizes", "40", "--latency-ms", "2", "--naive-sample", "40", "--rate-limit", "200",
]  # fmt: skip
HEADINGS = (
    "wall s", "Graph requests", "429s", "Table reads", "Table writes", "status writes",
    "peak RSS MB",
)  # fmt: skip
POLLS = ("poll 1 (cold cache)", "poll 2 (nothing changed)")


def rows_under(lines: list[str], title: str) -> dict[str, list[str]]:
    """The rows ("naive", "app", "naive / app") printed under a poll's title, by label."""
    start = next(index for index, line in enumerate(lines) if line.strip() == title)
    rows: dict[str, list[str]] = {}
    for line in lines[start + 1 : start + 4]:
        label, _, cells = line.strip().partition("  ")
        rows[label] = cells.split()
    return rows


@pytest.mark.e2e
def test_bench_poll_runs_at_a_small_size_and_the_nothing_changed_app_poll_writes_nothing() -> None:
    done = subprocess.run(
        COMMAND, cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=110
    )
    output = done.stdout
    assert done.returncode == 0, f"{output}\n{done.stderr}"
    header = next(line for line in output.splitlines() if "Graph requests" in line)
    for heading in HEADINGS:
        assert heading in header
    lines = output.splitlines()
    for title in POLLS:
        rows = rows_under(lines, title)
        assert set(rows) == {"naive", "app", "naive / app"}, rows
        assert all(len(cells) == len(HEADINGS) for cells in rows.values()), rows
    app_second_poll = rows_under(lines, POLLS[1])["app"]
    assert app_second_poll[HEADINGS.index("status writes")] == "0", output
    assert "Throttling at N = 40" in output
    assert "Targets (shown, not asserted):" in output
