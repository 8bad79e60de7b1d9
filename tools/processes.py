"""Starting the stack's child processes the same way everywhere: Azurite, the simulated tenant
and the local host, for the tests, ``tools.bench_host`` and ``make run``.

One place for Azurite's command line and connection string keeps the three in step (a flag
changed for one would otherwise silently differ in the others). Azurite runs its main binary:
the Table and Queue services (the app keeps its data in tables and its work on queues) and
the Blob service, on three ports from one base port: table on ``port``, queue on
``port + 1``, blob on ``port + 2`` (:func:`azurite_ports`; :func:`free_azurite_port` finds
three free ones).

``Child`` is the synchronous runner the tests and the benchmark share: each child gets its
own session and process group, so a terminal's Ctrl-C reaches only the parent, which then
stops the children in order, and a stop signal reaches whatever a child started too. Its
output goes to a log file, whose tail is the useful clue when a child fails to start.

``make run`` streams its children's output with asyncio instead, so it takes only the
constants, the command line and ``signal_group`` from here. Nothing here imports pytest:
callers turn ``ChildFailed`` into their own kind of failure.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Azurite's main binary: Blob, Queue and Table services in one process (the app uses the
# Table and Queue ones), on a base port, the table's, the queue's next, the blob's after it.
AZURITE = REPO / "node_modules" / ".bin" / "azurite"
# The documented key of the Storage emulators' devstoreaccount1 (public, not a secret).
DEVSTORE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
STOP_TIMEOUT = 10.0


def free_port() -> int:
    """A port nothing listens on right now, so parallel runs (pytest-xdist) do not clash."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_azurite_port(attempts: int = 50) -> int:
    """A base port for Azurite (:func:`azurite_ports`): ``p``, ``p + 1`` and ``p + 2`` are all
    free right now, so its three services can listen, in parallel runs too."""
    for _ in range(attempts):
        port = free_port()
        if port + 2 <= 65535 and all(_bindable(other) for other in (port + 1, port + 2)):
            return port
    raise RuntimeError(f"found no three free consecutive ports in {attempts} attempts")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def azurite_ports(port: int) -> tuple[int, int, int]:
    """Azurite's (table, queue, blob) ports for the base ``port``: the table on the base, so
    a single port still names where the tables are, as before queues were used. The same
    from any base, 10002 included (UseDevelopmentStorage=true's queue is on 10001, so whoever
    starts Azurite hands the host :func:`azurite_connection_string`, as ``make run`` does)."""
    return port, port + 1, port + 2


def azurite_queue_port(port: int) -> int:
    """The Queue service's port of an Azurite started from the base ``port``."""
    return azurite_ports(port)[1]


def azurite_connection_string(port: int, *, table_port: int | None = None) -> str:
    """``AzureWebJobsStorage`` for Azurite's Table and Queue services from the base ``port``
    (not always 10002; the queue is on ``port + 1``, not UseDevelopmentStorage's 10001).
    ``table_port`` sends the table requests elsewhere (a proxy in front of Azurite's Table
    service), the queue's still going to Azurite."""
    table, queue, _ = azurite_ports(port)
    return (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={DEVSTORE_KEY};"
        f"TableEndpoint=http://127.0.0.1:{table if table_port is None else table_port}"
        "/devstoreaccount1;"
        f"QueueEndpoint=http://127.0.0.1:{queue}/devstoreaccount1;"
    )


def storage_names(table_prefix: str) -> dict[str, str]:
    """The app settings that give a host its own tables and queues on a shared Azurite: the
    table prefix and the queues the queue triggers name (%POLL_QUEUE_NAME%, ...), which a
    host, like Azure, will not start without."""
    from shared.settings import queue_names

    polls, deliveries = queue_names(table_prefix)
    return {
        "STATUS_TABLE_PREFIX": table_prefix,
        "POLL_QUEUE_NAME": polls,
        "DELIVERY_QUEUE_NAME": deliveries,
    }


def azurite_command(port: int, *, location: Path | None = None) -> list[str]:
    """Azurite on 127.0.0.1 from the base ``port`` (table, queue, blob: :func:`azurite_ports`):
    in memory, or with its data in ``location`` (Azurite refuses ``--location`` together with
    ``--inMemoryPersistence``).

    ``--skipApiVersionCheck`` lets a newer azure-data-tables or azure-storage-queue talk to
    it, and ``--silent`` drops the access log line per request, which would drown the useful
    output.
    """
    table, queue, blob = azurite_ports(port)
    storage = ["--inMemoryPersistence"] if location is None else ["--location", str(location)]
    return [
        str(AZURITE),
        *storage,
        "--tableHost", "127.0.0.1",
        "--tablePort", str(table),
        "--queueHost", "127.0.0.1",
        "--queuePort", str(queue),
        "--blobHost", "127.0.0.1",
        "--blobPort", str(blob),
        "--skipApiVersionCheck",
        "--disableTelemetry",
        "--silent",
    ]  # fmt: skip


def azurite_listening(line: str) -> str | None:
    """Which service (``"Table"``, ``"Queue"``, ``"Blob"``) a line of Azurite's output says is
    listening, else None: for callers that read its output rather than probe its ports."""
    words = line.split()
    if "successfully listening" in line and len(words) > 1 and words[0] == "Azurite":
        return words[1]
    return None


def wait_for_port(
    port: int, timeout: float, *, process: subprocess.Popen[bytes] | None = None
) -> bool:
    """Whether 127.0.0.1:``port`` accepts connections within ``timeout`` seconds; gives up
    early when ``process``, the one meant to listen there, exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            if process is None:
                return True
            # Someone else may have answered (a free port another run took first): the
            # child, failing to bind, then exits; make sure it is still the one listening.
            time.sleep(0.2)
            return process.poll() is None
        time.sleep(0.05)
    return False


def signal_group(pid: int, signum: signal.Signals) -> None:
    """Signal a child's whole process group; it may already be gone, which is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


class ChildFailed(RuntimeError):
    """A child did not start; the message ends with the tail of its output."""


class Child:
    """A subprocess in its own session and process group, its output in
    ``<log_dir>/<name>.log``."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        log_dir: Path,
        cwd: Path = REPO,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.log = log_dir / f"{name}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self._lines()[-lines:])

    def failure(self, why: str) -> ChildFailed:
        """``why`` with the tail of the child's output, the clue to what went wrong."""
        return ChildFailed(f"{self.name} {why}; its last output:\n{self.tail()}")

    def wait_for_line(self, predicate: Callable[[str], bool], timeout: float) -> str:
        """The first line of output that satisfies ``predicate``, e.g. a "ready" line."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self._lines():
                if predicate(line):
                    return line
            if self.process.poll() is not None or time.monotonic() >= deadline:
                raise self._not_started(f"did not start within {timeout:.0f} s")
            time.sleep(0.05)

    def wait_for_port(self, port: int, timeout: float) -> None:
        if not wait_for_port(port, timeout, process=self.process):
            raise self._not_started(f"did not listen on port {port} within {timeout:.0f} s")

    def wait_for_azurite(self, port: int, timeout: float) -> None:
        """Until Azurite (this child, from the base ``port``) serves tables and queues, the
        two services the app uses."""
        deadline = time.monotonic() + timeout
        table, queue, _ = azurite_ports(port)
        for service in (table, queue):
            self.wait_for_port(service, max(deadline - time.monotonic(), 0.1))

    def stop(self) -> int | None:
        """SIGTERM to the group, SIGKILL after STOP_TIMEOUT; the exit code (None if it had to
        be killed)."""
        if self.process.poll() is None:
            signal_group(self.process.pid, signal.SIGTERM)
            try:
                return self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait()
                return None
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL to the group, as a crash or an out-of-memory kill would end it: nothing
        it was doing is finished or cleaned up."""
        if self.process.poll() is None:
            signal_group(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def _not_started(self, why: str) -> ChildFailed:
        code = self.process.poll()
        return self.failure(why if code is None else f"exited with {code} during start-up")

    def _lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()
