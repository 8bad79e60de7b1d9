"""pydantic's JSON Schema to Swagger 2.0 schema objects, presented for Power Automate: each
property gets a summary (its title in the flow designer) and a visibility, timestamps in
requests get their pattern, and nullable types become ``x-nullable``.

Swagger 2.0 has no ``anyOf`` and no null type, and a ``$ref`` takes no siblings: a nullable
reference is written out in place.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

from shared.core.jsontext import INT64_MAX
from shared.core.time import ISO_8601

# Timestamps in requests: the pattern parse_timestamp checks (ECMA regex, ASCII digits).
TIMESTAMP_PATTERN = "^" + ISO_8601.pattern.replace(r"\d", "[0-9]") + "$"


# The bodies a connector trigger POSTs (their notificationUrl is the flow's callback), and
# the filters whose sources are the app's.
_SUBSCRIBE_BODIES = ("SubscriptionRequest", "IncidentSubscriptionRequest")
_FILTERS = ("SubscriptionFilter", "IncidentFilter")


@dataclass
class Presentation:
    """How properties are shown to a flow maker: the app's own hints and every source's."""

    summaries: dict[str, str] = field(default_factory=dict)
    important: set[str] = field(default_factory=set)
    internal: set[str] = field(default_factory=set)
    definition_texts: dict[str, str] = field(default_factory=dict)
    property_texts: dict[tuple[str | None, str], str] = field(default_factory=dict)
    property_visibility: dict[tuple[str | None, str], str] = field(default_factory=dict)
    not_null: dict[str, frozenset[str]] = field(default_factory=dict)
    # (model, property) of the request timestamps.
    timestamps: set[tuple[str | None, str]] = field(default_factory=set)

    def summary(self, name: str) -> str:
        if name in self.summaries:
            return self.summaries[name]
        words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name.lstrip("@")).split()
        return " ".join(word[:1].upper() + word[1:] for word in words)

    def visibility(self, name: str) -> str:
        if name in self.internal:
            return "internal"
        return "important" if name in self.important else "advanced"


# Key order of every schema object, so the document reads the same way everywhere.
_KEY_ORDER = (
    "$ref",
    "type",
    "format",
    "title",
    "description",
    "x-ms-summary",
    "x-ms-visibility",
    "x-ms-notification-url",
    "x-nullable",
    "enum",
    "default",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "items",
    "required",
    "properties",
    "additionalProperties",
)
# Titles are pydantic's (x-ms-summary says it better); defaults of responses mean nothing and
# those of requests are all null.
_DROPPED = {"title", "default"}


def _ordered(schema: dict[str, Any]) -> dict[str, Any]:
    known = [key for key in _KEY_ORDER if key in schema]
    rest = sorted(key for key in schema if key not in _KEY_ORDER)
    return {key: schema[key] for key in known + rest}


class SchemaConverter:
    """pydantic's JSON Schema (2020-12 flavour) to Swagger 2.0 schema objects, presented
    for a flow maker (summaries, visibility, texts) and listing the sources by name."""

    def __init__(
        self, defs: dict[str, Any], presentation: Presentation, source_names: list[str]
    ) -> None:
        self.defs = defs
        self.hints = presentation
        self.source_names = source_names

    def definition(self, name: str) -> dict[str, Any]:
        schema = self.convert(self.defs[name], model=name)
        if name in self.hints.definition_texts:
            schema["description"] = self.hints.definition_texts[name]
        return _ordered(schema)

    def convert(self, node: dict[str, Any], *, model: str | None = None) -> dict[str, Any]:
        if "$ref" in node:
            return {"$ref": node["$ref"]}
        if "anyOf" in node:
            return self._union(node, model)
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _DROPPED:
                continue
            if key == "const":
                out["enum"] = [value]
            elif key == "description":
                out["description"] = _plain(value)
            elif key == "items":
                out["items"] = self.convert(value)
            elif key == "additionalProperties" and isinstance(value, dict):
                out[key] = self.convert(value)
            elif key == "properties":
                out[key] = {
                    name: self._property(model, name, schema) for name, schema in value.items()
                }
            elif key in ("allOf", "oneOf", "not", "$defs", "prefixItems"):
                raise ValueError(f"Swagger 2.0 has no equivalent of {key!r} ({model})")
            else:
                out[key] = copy.deepcopy(value)
        if out.get("type") == "integer" and out.get("maximum") == INT64_MAX:
            out.setdefault("format", "int64")
        return _ordered(out)

    def _union(self, node: dict[str, Any], model: str | None) -> dict[str, Any]:
        choices = [choice for choice in node["anyOf"] if choice != {"type": "null"}]
        if len(choices) != 1:
            raise ValueError(f"Swagger 2.0 cannot describe the union {node['anyOf']!r}")
        (choice,) = choices
        if "$ref" in choice:
            # A $ref takes no siblings (x-nullable), so a nullable reference is written out.
            out = self.definition(choice["$ref"].rsplit("/", 1)[1])
        else:
            out = self.convert(choice, model=model)
        rest = {key: value for key, value in node.items() if key != "anyOf"}
        if rest:
            out |= self.convert(rest)
        if len(choices) < len(node["anyOf"]):
            out["x-nullable"] = True
        return _ordered(out)

    def _property(self, model: str | None, name: str, node: dict[str, Any]) -> dict[str, Any]:
        schema = self.convert(node, model=None)
        hints = self.hints
        if name in hints.not_null.get(model or "", ()):
            schema.pop("x-nullable", None)
        if (model, name) in hints.timestamps:
            schema["pattern"] = TIMESTAMP_PATTERN
        if (model, name) in hints.property_texts:
            schema["description"] = hints.property_texts[(model, name)]
        if "$ref" not in schema:
            schema["x-ms-summary"] = hints.summary(name)
            visibility = hints.property_visibility.get((model, name), hints.visibility(name))
            schema["x-ms-visibility"] = visibility
        if name == "notificationUrl" and model in _SUBSCRIBE_BODIES:
            schema["x-ms-notification-url"] = True
        # The models hold source names as plain strings; the document lists the sources.
        if name == "source":
            schema["enum"] = list(self.source_names)
        elif name == "sources" and model in _FILTERS:
            schema["maxItems"] = len(self.source_names)
            schema["items"] = {"type": "string", "enum": list(self.source_names)}
        return _ordered(schema)


def _plain(text: str) -> str:
    """A docstring as one paragraph of plain text (no reST literals)."""
    return " ".join(text.replace("``", "`").split())


def referenced(definitions: dict[str, Any], roots: set[str]) -> set[str]:
    """The definitions reachable from ``roots`` (nullable references were inlined, so some
    definitions pydantic made are used by nothing)."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(re.findall(r'"#/definitions/([^"]+)"', json.dumps(definitions[name])))
    return seen
