"""Marks: how the driver reads what a child process did between two moments.

A measured process (a worker, the simulated Graph) answers SIGUSR1 by writing what it did
since its last mark to ``<marks dir>/<name>.json`` (replaced whole, with a sequence number),
then starting a new period (counters cleared, VmHWM brought down to the current RSS). The
driver marks every process before a round (the period is thrown away) and after it (the
round's figures). Signals rather than a control port: a local host has no route of the
benchmark's, and a signal reaches a process whatever its event loop is doing.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tools.bench_poll import CountingTransport, TableCalls, peak_rss_mb

MARK_SIGNAL = signal.SIGUSR1
# The baseline worker's "run a round now"; the simulated Graph's "a configuration begins".
ROUND_SIGNAL = signal.SIGUSR2
NEW_DEPLOYMENT_SIGNAL = signal.SIGUSR2
MARK_TIMEOUT = 60.0


def reset_peak_rss() -> None:
    """Bring VmHWM down to the current RSS (Linux), so the next peak is the next period's."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) process ``pid`` has used so far (Linux); 0 if unknown."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def busiest_window(times: Iterable[float], seconds: float = 10.0) -> int:
    """The most of ``times`` that fall in any window of ``seconds`` (a sliding window)."""
    ordered = sorted(times)
    most, start = 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= seconds:
            start += 1
        most = max(most, end - start + 1)
    return most


def write_mark(directory: Path, name: str, payload: dict[str, Any]) -> None:
    """``payload`` as ``name``'s next mark (its sequence number one higher than the last)."""
    path = directory / f"{name}.json"
    seq = read_mark(path).get("seq", 0) + 1
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"seq": seq, **payload}))
    os.replace(temporary, path)


def read_mark(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def mark(
    directory: Path,
    processes: dict[str, int],
    *,
    signum: signal.Signals = MARK_SIGNAL,
    timeout: float = MARK_TIMEOUT,
) -> dict[str, dict[str, Any]]:
    """Mark every process of ``processes`` (name -> pid) at once; their marks, by name.
    With another ``signum``, whatever the process writes as ``name`` when it gets that
    signal (the baseline's round). RuntimeError when one does not answer within ``timeout``."""
    paths = {name: directory / f"{name}.json" for name in processes}
    before = {name: read_mark(path).get("seq", 0) for name, path in paths.items()}
    for pid in processes.values():
        os.kill(pid, signum)
    deadline = time.monotonic() + timeout
    marks: dict[str, dict[str, Any]] = {}
    while len(marks) < len(paths):
        for name, path in paths.items():
            found = read_mark(path)
            if name not in marks and found.get("seq", 0) > before[name]:
                marks[name] = found
        if len(marks) < len(paths):
            if time.monotonic() > deadline:
                missing = sorted(set(paths) - set(marks))
                raise RuntimeError(f"no mark from {missing} within {timeout:.0f} s")
            time.sleep(0.02)
    return marks


# -- a worker's own figures ---------------------------------------------------------------------


class WorkerMeter:
    """What a worker process measures of itself: its Table calls (every TableServiceClient
    the app makes from a connection string is given a counting transport), its CPU time and
    its peak RSS, each since the last mark."""

    def __init__(self) -> None:
        self.calls = TableCalls()
        self._cpu = time.process_time()

    def count_table_calls(self) -> None:
        """From now on, count the app's Table calls (``tools.bench_poll``'s transport, with
        the timeouts ``StatusStore.from_settings`` asks for)."""
        from azure.data.tables.aio import TableServiceClient

        original: Callable[..., Any] = TableServiceClient.from_connection_string.__func__  # type: ignore[attr-defined]
        calls = self.calls

        def counted(cls: type, conn_str: str, **options: Any) -> Any:
            if "transport" not in options:
                options["transport"] = CountingTransport(
                    calls,
                    connection_timeout=options.pop("connection_timeout", 5),
                    read_timeout=options.pop("read_timeout", 20),
                )
            return original(cls, conn_str, **options)

        TableServiceClient.from_connection_string = classmethod(counted)  # type: ignore[method-assign,assignment]

    def period(self) -> dict[str, Any]:
        """This period's figures; a new period starts."""
        now = time.process_time()
        figures = {
            "pid": os.getpid(),
            "cpu_s": now - self._cpu,
            "peak_rss_mb": peak_rss_mb(),
            "table": self.calls.to_json(),
        }
        self._cpu = now
        self.calls.reads.clear()
        self.calls.writes.clear()
        self.calls.creates = 0
        reset_peak_rss()
        return figures
