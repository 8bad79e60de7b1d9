"""What the benchmarks that run their sides in worker processes share (``tools.bench_poll``,
``tools.bench_tenants``): Azurite started for a run, a worker's result handed to its parent,
and the table they print."""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from tools.processes import (
    AZURITE,
    REPO,
    Child,
    ChildFailed,
    azurite_command,
    free_azurite_port,
)

START_TIMEOUT = 60.0
WORKER_TIMEOUT = 900.0
RESULT_PREFIX = "BENCH_RESULT="

T = TypeVar("T")

# -- the processes ------------------------------------------------------------------------------


@contextlib.contextmanager
def running(child: Child) -> Iterator[Child]:
    try:
        yield child
    finally:
        child.stop()


@contextlib.contextmanager
def azurite_running(prefix: str) -> Iterator[tuple[Path, Child, int]]:
    """A temporary working directory (named from ``prefix``) and Azurite (in memory) started
    in it: the directory, Azurite and its port; Azurite is stopped and the directory removed
    at the end."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        workdir = Path(tmp)
        port = free_azurite_port()
        azurite = Child("azurite", azurite_command(port), cwd=workdir, log_dir=workdir)
        with running(azurite):
            azurite.wait_for_azurite(port, START_TIMEOUT)
            yield workdir, azurite, port


def print_result(result: Any) -> None:
    """A worker's result, as its parent reads it (``worker_result``)."""
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def worker_result(kind: str, command: list[str]) -> Any:
    """Run the ``kind`` worker ``command`` from the repository; the result it printed. A worker
    that fails or prints none ends the benchmark with its output."""
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=WORKER_TIMEOUT, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        raise SystemExit(
            f"the {kind} worker failed ({done.returncode}):\n{done.stdout}{done.stderr[-4000:]}"
        )
    return json.loads(lines[-1][len(RESULT_PREFIX) :])


def run_bench(parser: argparse.ArgumentParser, bench: Callable[[], T]) -> T:
    """``bench()``, once Azurite is known to be installed; a child process that failed ends the
    benchmark with what it said."""
    if not AZURITE.exists():
        parser.error(f"{AZURITE} is missing: run `make install`")
    try:
        return bench()
    except ChildFailed as error:  # the stack is stopped by now
        raise SystemExit(str(error)) from None


# -- printing -------------------------------------------------------------------------------------


def row(label: str, cells: list[str]) -> None:
    """One line of a table: two spaces, the label in 24, then each cell right-aligned in 15."""
    print(f"  {label:<24}" + "".join(f"{cell:>15}" for cell in cells))


def ratio(numerator: float, denominator: float) -> str:
    if denominator == 0:
        return "-" if numerator == 0 else "n/a"
    return f"{numerator / denominator:,.1f}x"


def verdict(ok: bool) -> str:
    return "met" if ok else "not met"
