"""``$select`` as Graph checks it, and the properties each version of a Graph type has.

Graph refuses a ``$select`` of a property that the resource's type lacks in the version asked,
with a 400 (``BadRequest``, "Could not find a property named 'x' on type
'microsoft.graph.organization'."): an app that selects a beta-only property on v1.0 reads
nothing at all from a real tenant. The tenant does the same.

Which properties a type has comes from Microsoft's own SDKs, whose models are generated from
Graph's metadata: msgraph-sdk for v1.0, msgraph-beta-sdk for beta (the keys of a kiota
model's ``get_field_deserializers()``: structural and navigation properties, inherited ones
included). Areas call :func:`parse_select` with the type they serve; a ``$batch`` sub-request
is answered by the same handler as a top-level request, so it is checked alike.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
from collections.abc import Mapping, Sequence
from typing import Any

from tools.graph_tenant.common import GraphCall

# Where each Graph version's models are, in Microsoft's SDKs.
SDK_MODELS = {"v1.0": "msgraph.generated.models", "beta": "msgraph_beta.generated.models"}
_WORD_START = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# One property in a kiota model's get_field_deserializers(): ``"name": lambda n : ...``.
_FIELD = re.compile(r'^\s*"([^"@][^"]*)": lambda n\b', re.MULTILINE)


def graph_version(path: str) -> str:
    """The version segment of a Graph path: ``/beta/organization`` -> ``beta``."""
    return path.lstrip("/").split("/", 1)[0]


@functools.cache
def type_properties(version: str, type_name: str) -> Mapping[str, str]:
    """The properties of ``microsoft.graph.<type_name>`` in ``version`` (``v1.0``, ``beta``),
    by lower-case name, spelled as Graph spells them. ``type_name`` is relative to
    ``microsoft.graph``: ``organization``, ``servicePrincipal``,
    ``industryData.industryDataRun``.

    Read from the source of the model's ``get_field_deserializers()`` and its base classes':
    calling it would import every Graph type (``Entity``'s imports all of its subtypes), some
    seconds per version at every start of the tenant. test_graph_tenant_select checks that
    both say the same.
    """
    models = SDK_MODELS[version]
    *namespaces, name = type_name.split(".")
    module_path = ".".join(_snake(part) for part in (*namespaces, name))
    model = getattr(importlib.import_module(f"{models}.{module_path}"), name[0].upper() + name[1:])
    names: list[str] = []
    for klass in model.__mro__:
        method = vars(klass).get("get_field_deserializers")
        if method is not None and klass.__module__.startswith(models):
            names += _FIELD.findall(inspect.getsource(method))
    return {field.lower(): field for field in names}


def other_versions_only(version: str, type_name: str) -> frozenset[str]:
    """Properties another version of the type has and ``version`` lacks (for v1.0's
    organization: ``onPremisesLastPasswordSyncDateTime``, which only beta has)."""
    own = type_properties(version, type_name)
    others = {
        spelled
        for other in SDK_MODELS
        if other != version
        for lower, spelled in type_properties(other, type_name).items()
        if lower not in own
    }
    return frozenset(others)


def parse_select(call: GraphCall, type_name: str) -> list[str] | None:
    """The properties ``$select`` names, spelled as Graph spells them (it matches names
    case-insensitively), each once; None without ``$select``.

    ValueError carries Graph's 400 message for a name that the type lacks in the version of
    ``call``'s path.
    """
    if "$select" not in call.query:
        return None
    spelled = type_properties(graph_version(call.path), type_name)
    selected: list[str] = []
    for raw in call.query["$select"].split(","):
        name = raw.strip()
        if name.lower() not in spelled:
            raise ValueError(
                f"Could not find a property named '{name}' on type 'microsoft.graph.{type_name}'."
            )
        if spelled[name.lower()] not in selected:
            selected.append(spelled[name.lower()])
    return selected


def selected_properties(resource: Mapping[str, Any], selected: Sequence[str]) -> dict[str, Any]:
    """The ``selected`` properties of ``resource`` (null when it has no value), ``id`` always
    first, as Graph answers a ``$select`` on directory objects. Values are shared, not copied."""
    answer = {"id": resource.get("id")}
    for name in selected:
        answer[name] = resource.get(name)
    return answer


def _snake(name: str) -> str:
    """A Graph name as the SDKs name its module: ``servicePrincipal`` -> ``service_principal``."""
    return _WORD_START.sub("_", name).lower()
