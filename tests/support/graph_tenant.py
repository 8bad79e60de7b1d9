"""The simulated Graph tenant as its own tests reach it: its paths, and its command line run as
a child process."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

from tools.processes import REPO

PROFILES = "/beta/education/synchronizationProfiles"


def jobs_path(sp_id: str) -> str:
    return f"/v1.0/servicePrincipals/{sp_id}/synchronization/jobs"


@contextlib.contextmanager
def graph_tenant_process(*args: str, text: bool = True) -> Iterator[subprocess.Popen[Any]]:
    """``python -m tools.graph_tenant`` with ``args``, from the repository, its stdout and
    stderr piped (as text, unless ``text`` is False); killed at the end if still running."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.graph_tenant", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=text,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
