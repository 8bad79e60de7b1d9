"""The environment a child process of the tests gets."""

from __future__ import annotations

import os

# Settings a developer's shell might carry that must not leak into the stack under test.
_STRAY_PREFIXES = ("AzureWebJobs", "GRAPH_", "FUNCTIONS_", "POLL_SCHEDULE", "STATUS_TABLE_PREFIX")


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(_STRAY_PREFIXES)}
