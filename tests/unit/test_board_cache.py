"""The board's page cache, the parts with no I/O: the bounded least-recently-used map that
keeps the pages, and how If-None-Match is matched against a page's ETag."""

from __future__ import annotations

from shared.http.board.cache import Lru
from shared.http.board.page import etag_matches


def test_the_least_recently_used_goes_first_and_the_size_is_bounded() -> None:
    kept: Lru[str, int] = Lru(2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.get("a") == 1  # a is now the most recent
    kept.put("c", 3)
    assert kept.get("b") is None and kept.get("a") == 1 and kept.get("c") == 3
    for index in range(100):
        kept.put(f"k{index}", index)
    assert len(kept) == 2


def test_if_none_match_is_compared_weakly_and_takes_lists_and_a_star() -> None:
    etag = 'W/"abc"'
    assert etag_matches('W/"abc"', etag)
    assert etag_matches('"abc"', etag)  # weak comparison: the W/ does not count
    assert etag_matches('"x", W/"abc"', etag)
    assert etag_matches("*", etag)
    assert not etag_matches('W/"abd"', etag)
    assert not etag_matches(None, etag) and not etag_matches("", etag)
