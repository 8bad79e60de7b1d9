"""`python -m tools.simulate_day` over a few rounds, as a smoke test of its counting: against
its own Azurite, simulated Graph (make run's demo tenants) and receivers, the flapping job
changes health at every poll yet makes one incident, the Connect outage one, the maintenance
window keeps the school trust's run incidents quiet, and the incident subscription hears
less than the change subscription (nothing about time is asserted: CI machines are uneven)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.support.environment import clean_env
from tools.processes import REPO

ROUNDS = 6
COMMAND = [sys.executable, "-m", "tools.simulate_day", "--rounds", str(ROUNDS)]


def number(pattern: str, output: str) -> int:
    match = re.search(pattern, output)
    assert match, f"{pattern!r} not in:\n{output}"
    return int(match[1].replace(",", ""))


@pytest.mark.e2e
def test_simulate_day_counts_changes_and_incident_notices() -> None:
    done = subprocess.run(
        COMMAND, cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=180
    )
    output = done.stdout
    assert done.returncode == 0, f"{output}\n{done.stderr}"
    assert f"{ROUNDS} rounds" in output
    assert "time compressed 150x" in output
    assert "DIRECTORY_SYNC_STALE_AFTER_MINUTES=1" in output
    # Slack's job flips at every poll after the first, and stays one incident.
    assert number(r"flapping job \(Slack\): (\d+) health changes", output) == ROUNDS - 1
    assert number(r"flapping job \(Slack\): \d+ health changes, (\d+) incident", output) == 1
    assert number(r"Connect outage: (\d+) incident", output) == 1
    # The window is on for the whole run: what opened under it was announced to nobody.
    under = number(r"maintenance window .*: (\d+) incident\(s\) opened under it", output)
    quiet = number(r"opened under it, (\d+) never announced", output)
    assert under > 0 and quiet == under, output
    changes = number(r"Messages: ([\d,]+) changes recorded", output)
    events = number(r"changes recorded, ([\d,]+) change events delivered", output)
    notices = number(r"([\d,]+) incident notices delivered", output)
    assert 0 < notices < changes, output
    assert 0 < events <= changes, output
    rows = {line.split("  ")[1].strip() for line in output.splitlines() if line.startswith("  ")}
    assert {"Home tenant", "Northwind Academy Trust", "Tailspin Toys", "all tenants"} <= rows
