"""The one bound on the Retry-After the app tells its callers, whoever set the wait: whole
positive seconds, at most the cap of ``shared/core/retry_after.py``, written by the HTTP
layer's one mapping (``shared/http/errors.py``)."""

from __future__ import annotations

import math

import pytest

from shared.core.errors import (
    ContentionError,
    GraphUnavailableError,
    SettingsError,
    StorageUnavailableError,
    TooManyRequestsError,
)
from shared.core.retry_after import MAX_RETRY_AFTER_SECONDS, caller_retry_after, parse_retry_after
from shared.http.errors import RETRY_AFTER_SECONDS, api_error

CAP = str(int(MAX_RETRY_AFTER_SECONDS))


@pytest.mark.parametrize(
    ("seconds", "told"),
    [
        (1, 1), (0.2, 1), (7.5, 8), (30, 30), (179.01, 180), (180, 180), (181, 180),
        (999999999, 180), (math.inf, 180), (1e400, 180),
        (None, 30), (0, 30), (-5, 30), (math.nan, 30),
    ],
)  # fmt: skip
def test_what_a_caller_is_told_is_whole_positive_and_capped(
    seconds: float | None, told: int
) -> None:
    assert caller_retry_after(seconds, RETRY_AFTER_SECONDS) == told


def test_a_default_is_bounded_alike() -> None:
    assert caller_retry_after(None, 10**9) == int(MAX_RETRY_AFTER_SECONDS)
    assert caller_retry_after(None, 0) == 1


@pytest.mark.parametrize("header", ["999999999", "1e400", "inf", " 3600 "])
def test_graphs_header_however_long_is_capped_when_passed_on(header: str) -> None:
    error = GraphUnavailableError("Graph did not do it", retry_after=parse_retry_after(header))
    assert api_error(error).headers == {"Retry-After": CAP}


@pytest.mark.parametrize(
    "error",
    [
        TooManyRequestsError("cooldown of a day", retry_after=86_400),
        GraphUnavailableError("throttled", retry_after=10**12),
    ],
    ids=["cooldown", "graph"],
)
def test_every_wait_is_capped_whoever_set_it(error: Exception) -> None:
    answer = api_error(error)  # type: ignore[arg-type]
    assert answer.headers == {"Retry-After": CAP}


@pytest.mark.parametrize(
    "error",
    [
        StorageUnavailableError("down"),
        ContentionError("busy"),
        SettingsError("missing"),
        GraphUnavailableError("no answer"),
        GraphUnavailableError("said zero", retry_after=0),
        TooManyRequestsError("odd", retry_after=0),
    ],
)
def test_an_unavailable_dependency_says_the_default_in_whole_seconds(error: Exception) -> None:
    answer = api_error(error)  # type: ignore[arg-type]
    assert answer.status in (429, 503)
    assert answer.headers == {"Retry-After": str(RETRY_AFTER_SECONDS)}
    assert answer.headers["Retry-After"].isdigit()
