"""Text the board did not write (names, reasons, statuses and messages from Graph or from a
caller) shown so that it cannot disturb the page around it.

- Control characters are dropped from everything the templates print (``clean``, the
  environment's ``finalize``): C0 but tab and newline, DEL, C1, NUL; a lone surrogate (which
  UTF-8 cannot encode) becomes U+FFFD.
- Foreign text is isolated (``bdi``): in a ``<bdi>`` element, whose isolation ends any
  embedding or override it opens (U+202E, the right-to-left override, included), so it cannot
  reorder the text after it. Where no markup is allowed (the page's ``<title>``), ``fsi``
  wraps it in U+2068/U+2069 (first-strong isolate, pop isolate), the same in characters.
- The raw JSON of an item (``document_json``) shows every invisible or reordering character
  escaped (``\\u0000``, ``\\u202e``), as JSON would write it with ``ensure_ascii``, while
  other text stays as sent.
"""

from __future__ import annotations

import json
import re
from typing import Any

from markupsafe import Markup, escape

# Dropped from what the board shows: C0 but tab and newline, DEL, C1 (NUL included); and lone
# surrogates, replaced.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATES = re.compile("[\ud800-\udfff]")
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# Escaped in the raw JSON (whose own line breaks are its indentation): controls, bidi marks,
# embeddings, overrides and isolates, zero-width and other format characters, line and
# paragraph separators, the byte-order mark, the interlinear annotations, lone surrogates and
# the tag characters.
_INVISIBLE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u00ad\u061c\u115f\u1160\u180e\u200b-\u200f\u2028-\u202e"
    "\u2060-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff\U000e0000-\U000e007f]"
)
_FIRST_STRONG_ISOLATE, _POP_ISOLATE = "\u2068", "\u2069"


def clean(text: str) -> str:
    """``text`` without control characters (tab and newline kept), lone surrogates replaced."""
    if _UNSAFE.search(text) is None:  # nearly always: one scan, in C
        return text
    return _SURROGATES.sub("\ufffd", _CONTROLS.sub("", text))


def finalize(value: Any) -> Any:
    """What every ``{{ ... }}`` prints passes here: plain text is cleaned; markup the app
    built (already escaped and cleaned) is left as it is."""
    return clean(value) if type(value) is str else value  # Markup is a str subclass


def bdi(value: Any) -> Markup:
    """Foreign text, escaped and cleaned, in an isolating ``<bdi>`` (nothing for no text)."""
    if value is None or value == "":
        return Markup("")
    # Built as text (Markup's % is several times slower, and a board has thousands).
    return Markup(f"<bdi>{escape(clean(str(value)))}</bdi>")  # noqa: S704 - escaped here


def fsi(value: Any) -> str:
    """Foreign text isolated by characters, for where no markup goes (a ``<title>``)."""
    if value is None or value == "":
        return ""
    return f"{_FIRST_STRONG_ISOLATE}{clean(str(value))}{_POP_ISOLATE}"


def document_json(value: Any) -> str:
    """A document as indented JSON, its invisible and reordering characters escaped."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return _INVISIBLE.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # beyond the BMP: JSON's surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


__all__ = ["bdi", "clean", "document_json", "finalize", "fsi"]
