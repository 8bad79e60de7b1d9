"""`python -m tools.bench_discovery` at a small N, as a smoke test: it runs against its own
Azurite and tenant and prints the requests of both ways. Requests are counted, not timed: a
discovering poll is the listing pages, one $batch per 20 principals and one listing per
principal with jobs; the next poll only the latter."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.support.environment import clean_env
from tools.processes import REPO

COMMAND = [
    sys.executable, "-m", "tools.bench_discovery",
    "--principals", "200", "--with-jobs", "3", "--latency-ms", "0", "--naive-sample", "20",
]  # fmt: skip


def cells(output: str, label: str) -> list[str]:
    (line,) = [line for line in output.splitlines() if line.startswith(label)]
    return re.split(r"\s{2,}", line[len(label) :].strip())


@pytest.mark.e2e
def test_bench_discovery_counts_a_batch_per_20_principals_then_only_those_with_jobs() -> None:
    done = subprocess.run(
        COMMAND, cwd=REPO, env=clean_env(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    output = done.stdout
    assert cells(output, "discovering poll, requests")[1] == str(1 + 10 + 3)  # 200 / 20
    assert cells(output, "  of which $batch")[1] == "10"
    assert cells(output, "  sub-requests in them")[1] == "200"
    assert cells(output, "next poll, requests")[1] == "3"
