"""`python -m tools.bench_board` at a small size, as a smoke test: it fills its own Azurite,
answers the board through the real handler, and prints both sides. No timing is asserted
(CI machines are too uneven); the page's gzip weight is, loosely."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.support.environment import clean_env
from tools.processes import REPO


@pytest.mark.e2e
def test_bench_board_answers_the_board_and_prints_its_figures() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tools.bench_board", "--items", "60", "--runs", "2"],
        cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "The board with 60 items" in done.stdout
    weight = re.search(r"page weight \(gzip\)\s+-\s+(\d+)KB", done.stdout)
    assert weight is not None and 0 < int(weight.group(1)) < 20, done.stdout
