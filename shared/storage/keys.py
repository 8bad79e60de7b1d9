"""Which ids can be keys: checked before any request, so bad input is a clear error and not a
storage error (Azurite even answers 500 for some of these characters)."""

from __future__ import annotations

import re

from shared.core.errors import InvalidKeyError

# A key is at most 1 KiB (512 UTF-16 code units) and may not hold these characters.
MAX_KEY_LENGTH = 512
# Lone surrogates (U+D800-U+DFFF) are not characters at all: they cannot be encoded.
_FORBIDDEN_KEY_CHARACTERS = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def validate_key(value: str, *, name: str = "id") -> str:
    """``value`` if it can be a PartitionKey or RowKey; InvalidKeyError naming ``name`` if not."""
    if not value:
        raise InvalidKeyError(f"The {name} must not be empty.", target=name)
    match = _FORBIDDEN_KEY_CHARACTERS.search(value)
    if match:
        raise InvalidKeyError(
            f"The {name} contains a character that is not allowed "
            f"({match.group()!r}): / \\ # ? and control characters cannot be used.",
            target=name,
        )
    if len(value.encode("utf-16-le")) > 2 * MAX_KEY_LENGTH:
        raise InvalidKeyError(
            f"The {name} is longer than {MAX_KEY_LENGTH} characters.", target=name
        )
    return value


def prefix_range(prefix: str) -> tuple[str, str]:
    """The RowKey range of exactly the keys that start with ``prefix``: from the prefix up to
    (not including) the prefix with its last character bumped."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)
