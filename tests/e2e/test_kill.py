"""`python -m tools.kill_test`, small: the host (a real process, with Azurite and the tenant
as processes too) is killed with SIGKILL twice at every phase of a poll, and restarted, and
not one change is lost, recorded twice, sent twice under two event ids, or out of order."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.environment import clean_env
from tools.kill_test.__main__ import PHASES
from tools.processes import REPO


@pytest.mark.e2e
def test_killing_the_host_at_every_phase_loses_and_repeats_nothing(tmp_path: Path) -> None:
    result_file = tmp_path / "kill.json"
    command = [
        sys.executable, "-m", "tools.kill_test",
        "--items", "30", "--kills", str(2 * len(PHASES)), "--seed", "3", "--json", str(result_file),
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=110
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(result_file.read_text())
    assert result["kills"] == dict.fromkeys(PHASES, 2)  # every moment was reached, twice
    assert result["changes"] == 30 * (1 + 2 * len(PHASES))
    assert (result["lost"], result["duplicated"]) == (0, 0)
    assert (result["broken_chains"], result["events_out_of_order"]) == (0, 0)
    assert result["cache_not_graph"] == 0
    assert "lost: 0" in done.stdout and "duplicated: 0" in done.stdout
