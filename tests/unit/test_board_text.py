"""Text the board did not write: control characters dropped, foreign text isolated (in a
``<bdi>``, or by U+2068/U+2069 where no markup goes), the raw JSON's invisible characters
escaped."""

from __future__ import annotations

import json
import re

from markupsafe import Markup

from shared.http.board.text import bdi, clean, document_json, finalize, fsi

RLO = "\u202e"


def test_control_characters_are_dropped_tab_and_newline_kept() -> None:
    assert clean("a\x00b\x07c\x1bd\x7fe\x85f\x9fg") == "abcdefg"
    assert clean("one\ttwo\nthree\r") == "one\ttwo\nthree"
    assert clean("lone \ud800 surrogate") == "lone \ufffd surrogate"
    assert clean(f"plain {RLO} text, é, עברית") == f"plain {RLO} text, é, עברית"


def test_foreign_text_is_isolated_escaped_and_cleaned() -> None:
    isolated = bdi(f"<b>{RLO}x\x00</b>")
    assert isinstance(isolated, Markup)
    assert str(isolated) == f"<bdi>&lt;b&gt;{RLO}x&lt;/b&gt;</bdi>"
    assert bdi(None) == "" and bdi("") == ""
    assert fsi(f"name{RLO}\x00") == f"\u2068name{RLO}\u2069"
    assert fsi(None) == ""


def test_what_templates_print_is_cleaned_but_the_apps_markup_is_left_alone() -> None:
    assert finalize("a\x00b") == "ab"
    markup = Markup("<svg>\x00</svg>")
    assert finalize(markup) is markup
    assert finalize(3) == 3 and finalize(None) is None


def test_the_raw_document_shows_invisible_characters_escaped() -> None:
    document = {
        "name": f"a\x00b{RLO}c\u2066d\u200be\u2028f\x85g\U000e0041h",
        "kept": "é עברית 😀",
        "lines": "one\ntwo",
    }
    text = document_json(document)
    assert "a\\u0000b\\u202ec\\u2066d\\u200be\\u2028f\\u0085g\\udb40\\udc41h" in text
    assert "é עברית 😀" in text and "one\\ntwo" in text
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e\u2066\u200b\u2028]", text)
    assert json.loads(text) == document  # still the same JSON
    assert "\\ud800" in document_json({"lone": "\ud800"})
