"""How the cache keeps Graph's JSON exact in Table Storage entities.

A string property holds at most 64 KiB of UTF-16, so longer text is split over numbered
properties (``name``, ``name_2``, ...), never cut. Whole JSON documents are kept as their
text (order, nulls, Int64 and 7-digit timestamps survive as they are), compressed past
512 KiB so an entity stays under Table Storage's 1 MiB; one too large even then is a
ValueError (reported as ``itemTooLarge`` by the poll), never cut.
"""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import dataclass
from typing import Any

from azure.data.tables import EdmType, EntityProperty

_MAX_PROPERTY_UTF16_UNITS = 32 * 1024
# JSON documents past this many UTF-16 units are compressed; past _MAX_DOCUMENT_BYTES
# compressed, an item cannot be cached.
_COMPRESS_ABOVE_UTF16_UNITS = 256 * 1024
_MAX_BINARY_PROPERTY_BYTES = 64 * 1024
_MAX_DOCUMENT_BYTES = 768 * 1024

Entity = dict[str, Any]


def etag_of(entity: Entity) -> str | None:
    """The ETag an entity was read with (None for one built in memory)."""
    return entity.metadata.get("etag") if hasattr(entity, "metadata") else None


def int64(value: int) -> EntityProperty:
    """An Int64 property: the SDK would send a plain int as Int32, which fails past 2^31."""
    return EntityProperty(value, EdmType.INT64)


def plain_value(value: Any) -> Any:
    """A property's value as read: the SDK wraps typed values (Int64, binary) in
    EntityProperty."""
    return value.value if isinstance(value, EntityProperty) else value


def put_optional(entity: Entity, name: str, value: str | None) -> None:
    if value is not None:
        put_text(entity, name, value)


def put_text(entity: Entity, name: str, value: str, *, over: Entity | None = None) -> None:
    """Store text in ``name``, continuing in ``name_2``, ``name_3``... when it is too long.
    Written over an entity (``over``: a MERGE) whose text has more parts, the part after the
    new ones is blanked, so the old text's tail is not read as part of the new one."""
    chunks: list[str] = []
    start = units = 0
    for index, character in enumerate(value):
        width = 2 if ord(character) > 0xFFFF else 1
        if units + width > _MAX_PROPERTY_UTF16_UNITS:
            chunks.append(value[start:index])
            start, units = index, 0
        units += width
    chunks.append(value[start:])
    entity[name] = chunks[0]
    for number, chunk in enumerate(chunks[1:], start=2):
        entity[f"{name}_{number}"] = chunk
    tail = f"{name}_{len(chunks) + 1}"
    if over is not None and over.get(tail):
        entity[tail] = ""


def get_text(entity: Entity, name: str) -> str | None:
    """Text ``put_text`` stored in ``name`` (and its continuations), None when absent."""
    first = entity.get(name)
    if first is None:
        return None
    parts = [first]
    number = 2
    # An empty part ends the text: a MERGE that wrote shorter text than was there blanks the
    # part after its own (a MERGE cannot delete the longer text's remaining parts).
    while parts[-1] and entity.get(f"{name}_{number}"):
        parts.append(entity[f"{name}_{number}"])
        number += 1
    return "".join(parts)


def put_document(entity: Entity, name: str, document: Any, *, over: Entity | None = None) -> None:
    """Store a JSON document as text in ``name`` (split past 64 KiB), or compressed in
    ``{name}Z`` binary properties when it is too large to keep as text (``over``: the entity
    a MERGE writes over, see ``put_text``)."""
    text = json.dumps(document, ensure_ascii=False)
    if len(text) <= _COMPRESS_ABOVE_UTF16_UNITS:  # characters <= UTF-16 units <= 2x chars
        put_text(entity, name, text, over=over)
        return
    packed = zlib.compress(text.encode(), 6)
    if len(packed) > _MAX_DOCUMENT_BYTES:
        raise ValueError(f"{name} is {len(packed)} bytes even compressed; an entity holds 1 MiB")
    chunks = [
        packed[start : start + _MAX_BINARY_PROPERTY_BYTES]
        for start in range(0, len(packed), _MAX_BINARY_PROPERTY_BYTES)
    ]
    entity[f"{name}Z"] = EntityProperty(chunks[0], EdmType.BINARY)
    for number, chunk in enumerate(chunks[1:], start=2):
        entity[f"{name}Z_{number}"] = EntityProperty(chunk, EdmType.BINARY)


def get_document(entity: Entity, name: str) -> Any:
    """The JSON document ``put_document`` stored (None when there is none)."""
    text = get_text(entity, name)
    if text is not None:
        return json.loads(text)
    if f"{name}Z" not in entity:
        return None
    parts = []
    number = 1
    while (part := entity.get(f"{name}Z" if number == 1 else f"{name}Z_{number}")) is not None:
        parts.append(plain_value(part))
        number += 1
    return json.loads(zlib.decompress(b"".join(_as_bytes(part) for part in parts)))


def _as_bytes(value: Any) -> bytes:
    # The SDK hands binary properties back as bytes; base64 text only from other writers.
    return value if isinstance(value, bytes) else base64.b64decode(value)


# Property names a document's own columns cannot take: Table Storage's, or ``id`` (kept as
# ``{layout}Id``, so no column reads as the item's own id).
_RESERVED_NAMES = frozenset({"id", "PartitionKey", "RowKey", "Timestamp"})


@dataclass(frozen=True)
class FieldLayout:
    """A JSON object kept as one typed column per known property, so storage can filter on
    them (``{name}Properties`` records the properties sent, in order, nulls included; those
    the layout does not know are kept as JSON in ``{name}Extra``)."""

    name: str
    properties: tuple[str, ...]
    # Properties kept as Edm.Int64 (the SDK would send a plain int as Int32).
    int64: frozenset[str] = frozenset()

    def column(self, prop: str) -> str:
        if prop in _RESERVED_NAMES:
            return f"{self.name}{prop[:1].upper()}{prop[1:]}"
        return prop


def put_fields(entity: Entity, layout: FieldLayout, document: dict[str, Any]) -> None:
    """A JSON object -> typed columns: timestamps stay strings (Table Storage's DateTime keeps
    6 fractional digits, Graph sends 7), Int64 where the layout says, nulls and the order of
    the properties recorded, unknown properties kept as JSON."""
    entity[f"{layout.name}Properties"] = json.dumps(list(document))
    known = set(layout.properties)
    extra = {name: value for name, value in document.items() if name not in known}
    if extra:
        put_text(entity, f"{layout.name}Extra", json.dumps(extra, ensure_ascii=False))
    for name in layout.properties:
        value = document.get(name)
        if value is None:
            continue  # Table Storage has no nulls; the properties column records it was sent
        if name in layout.int64:
            entity[layout.column(name)] = int64(value)
        else:
            put_text(entity, layout.column(name), value)


def get_fields(entity: Entity, layout: FieldLayout) -> dict[str, Any]:
    """Typed columns -> the JSON object ``put_fields`` kept, in the order it was sent."""
    extra_text = get_text(entity, f"{layout.name}Extra")
    extra = json.loads(extra_text) if extra_text else {}
    known = set(layout.properties)
    document: dict[str, Any] = {}
    for name in json.loads(entity.get(f"{layout.name}Properties") or "[]"):
        if name not in known:
            document[name] = extra.get(name)
        elif name in layout.int64:
            document[name] = plain_value(entity.get(layout.column(name)))
        else:
            document[name] = get_text(entity, layout.column(name))
    return document
