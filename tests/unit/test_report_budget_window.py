"""The window arithmetic of the shared report budget: which grants still count, and how long
a full window keeps the next one waiting."""

from __future__ import annotations

import pytest

from shared.storage.report_budget import admit


def test_a_window_with_room_grants_at_once_and_forgets_what_left_it() -> None:
    kept, wait = admit([1.0, 5.0, 9.5], now=12.0, limit=3, span=5.0)
    assert kept == [9.5] and wait == 0.0


def test_a_full_window_waits_until_its_oldest_grant_leaves() -> None:
    kept, wait = admit([11.0, 10.0, 12.0], now=12.5, limit=3, span=5.0)
    assert kept == [10.0, 11.0, 12.0]
    assert wait == pytest.approx(10.0 + 5.0 - 12.5)


def test_more_grants_than_the_limit_wait_until_enough_have_left() -> None:
    # Another instance with a larger budget wrote five: one fits again once three have left.
    _, wait = admit([10.0, 10.5, 11.0, 11.5, 12.0], now=12.0, limit=3, span=5.0)
    assert wait == pytest.approx(11.0 + 5.0 - 12.0)


def test_a_grant_from_a_clock_ahead_of_ours_still_counts() -> None:
    kept, wait = admit([13.0, 12.8], now=12.0, limit=2, span=5.0)
    assert kept == [12.8, 13.0] and wait == pytest.approx(12.8 + 5.0 - 12.0)


def test_a_grant_exactly_a_span_old_has_left() -> None:
    kept, wait = admit([7.0, 8.0], now=12.0, limit=2, span=5.0)
    assert kept == [8.0] and wait == 0.0
