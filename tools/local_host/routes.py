"""ASP.NET-style route templates, compiled once into matchers.

The Functions host routes HTTP triggers with ASP.NET Core route templates, so the app's
routes (``education/synchronizationProfiles/{id}/profileStatus``) must match here exactly as
they will in Azure: ``{name}``, typed constraints ``{id:guid}``, ``{n:int:min(1)}``, optional
``{x?}``, defaults ``{x=all}`` and catch-alls ``{*rest}``. Every template becomes one regular
expression plus a list of constraint predicates when the host starts; a request then costs
one regex match per candidate route and nothing else.

Literal segments match case-insensitively and a trailing slash is ignored, as in ASP.NET.
Candidates are tried in ASP.NET's precedence order (literal segments before constrained
parameters before plain parameters before catch-alls), so ``items/new`` wins over
``items/{id}`` whatever the registration order.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Generic, TypeVar
from urllib.parse import unquote

__all__ = [
    "MethodNotAllowed",
    "Route",
    "RouteMatch",
    "RouteTable",
    "RouteTemplateError",
    "compile_template",
]

T = TypeVar("T")

Constraint = Callable[[str], bool]

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_INTEGER = re.compile(r"[+-]?\d+\Z")
_ALPHA = re.compile(r"[A-Za-z]+\Z")
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# Segment kinds, in ASP.NET inbound precedence order (lower is more specific).
_LITERAL, _COMPLEX, _CONSTRAINED, _PARAMETER, _CATCH_ALL = range(1, 6)


class RouteTemplateError(ValueError):
    """A route template the Functions host would refuse to index."""


@dataclass(frozen=True, slots=True)
class _Parameter:
    name: str
    group: str
    constraints: tuple[Constraint, ...]
    optional: bool
    default: str | None
    catch_all: bool


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    """A route template turned into a regex, its parameters and its precedence key."""

    template: str
    pattern: re.Pattern[str]
    parameters: tuple[_Parameter, ...]
    precedence: tuple[int, ...]

    def match(self, raw_path: str) -> dict[str, str] | None:
        """Route values (url-decoded) when ``raw_path`` matches and every constraint holds."""
        found = self.pattern.match(raw_path)
        if found is None:
            return None
        values: dict[str, str] = {}
        for parameter in self.parameters:
            raw = found.group(parameter.group)
            if raw is None or raw == "":
                if parameter.default is not None:
                    values[parameter.name] = parameter.default
                elif not parameter.optional:
                    return None
                continue
            value = unquote(raw)
            for constraint in parameter.constraints:
                if not constraint(value):
                    return None
            values[parameter.name] = value
        return values


@dataclass(frozen=True, slots=True)
class Route(Generic[T]):
    """One HTTP function's entry in the table: its template, methods and payload."""

    template: CompiledTemplate
    methods: frozenset[str] | None  # None: every method
    target: T


@dataclass(frozen=True, slots=True)
class RouteMatch(Generic[T]):
    route: Route[T]
    params: dict[str, str]


@dataclass(frozen=True, slots=True)
class MethodNotAllowed:
    """The path matched one or more routes, none of which accepts the method."""

    allow: tuple[str, ...]


class RouteTable(Generic[T]):
    """Every HTTP route of the app, sorted by precedence once, matched per request."""

    def __init__(self, routes: Iterable[Route[T]]) -> None:
        self._routes = sorted(routes, key=lambda r: (r.template.precedence, r.template.template))

    @property
    def routes(self) -> Sequence[Route[T]]:
        return self._routes

    def match(self, method: str, raw_path: str) -> RouteMatch[T] | MethodNotAllowed | None:
        """The first route matching path and method; the allowed methods; or None (404)."""
        allowed: set[str] = set()
        for route in self._routes:
            params = route.template.match(raw_path)
            if params is None:
                continue
            if route.methods is None or method in route.methods:
                return RouteMatch(route, params)
            allowed.update(route.methods)
        if allowed:
            return MethodNotAllowed(tuple(sorted(allowed)))
        return None


def compile_template(route_prefix: str, template: str) -> CompiledTemplate:
    """Compile ``template`` under ``route_prefix`` ("api", or "" for no prefix)."""
    body = template.strip()
    for lead in ("~/", "/"):
        if body.startswith(lead):
            body = body[len(lead) :]
    prefix = route_prefix.strip("/")
    full = f"{prefix}/{body}" if prefix and body else prefix or body
    segments = full.split("/") if full else []
    if any(segment == "" for segment in segments):
        raise RouteTemplateError(f"route template {template!r} has an empty segment")

    regex: list[str] = []
    parameters: list[_Parameter] = []
    precedence: list[int] = []
    for index, segment in enumerate(segments):
        parts = _parse_segment(segment, template)
        last = index == len(segments) - 1
        kind, segment_regex, segment_params = _compile_segment(parts, len(parameters), template)
        if any(p.catch_all for p in segment_params) and not last:
            raise RouteTemplateError(f"catch-all must be the last segment in {template!r}")
        if len(parts) == 1 and segment_params and segment_params[0].optional:
            regex.append(f"(?:/{segment_regex})?")
        else:
            regex.append(f"/{segment_regex}")
        parameters.extend(segment_params)
        precedence.append(kind)

    names = [p.name.lower() for p in parameters]
    if len(set(names)) != len(names):
        raise RouteTemplateError(f"route template {template!r} repeats a parameter name")
    pattern = re.compile("".join(regex) + "/?\\Z", re.IGNORECASE | re.DOTALL)
    return CompiledTemplate(full, pattern, tuple(parameters), tuple(precedence))


# A parsed segment part: literal text, or a parameter whose regex group is not named yet.
_Part = str | _Parameter


def _parse_segment(segment: str, template: str) -> list[_Part]:
    """Split one segment into literal text and parameters, honouring ``{{``/``}}`` escapes."""
    parts: list[_Part] = []
    literal: list[str] = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "{" and segment.startswith("{{", i):
            literal.append("{")
            i += 2
        elif char == "}" and segment.startswith("}}", i):
            literal.append("}")
            i += 2
        elif char == "{":
            end, inner = _read_parameter(segment, i + 1, template)
            if literal:
                parts.append("".join(literal))
                literal = []
            elif parts and isinstance(parts[-1], _Parameter):
                raise RouteTemplateError(f"parameters need a literal between them: {template!r}")
            parts.append(_parse_parameter(inner, template))
            i = end
        elif char == "}":
            raise RouteTemplateError(f"unbalanced '}}' in route template {template!r}")
        else:
            literal.append(char)
            i += 1
    if literal:
        parts.append("".join(literal))
    return parts


def _read_parameter(segment: str, start: int, template: str) -> tuple[int, str]:
    """Text inside ``{...}`` starting at ``start``; ``}}`` inside it is an escaped brace."""
    inner: list[str] = []
    i = start
    while i < len(segment):
        if segment.startswith("}}", i):
            inner.append("}")
            i += 2
        elif segment.startswith("{{", i):
            inner.append("{")
            i += 2
        elif segment[i] == "}":
            return i + 1, "".join(inner)
        else:
            inner.append(segment[i])
            i += 1
    raise RouteTemplateError(f"unterminated parameter in route template {template!r}")


def _parse_parameter(inner: str, template: str) -> _Part:
    """Parse ``[*]name[:constraint]*[?|=default]``; defaults and catch-alls are optional."""
    catch_all = inner.startswith("*")
    pieces = _split_constraints(inner.lstrip("*"))
    default, pieces[-1] = _split_default(pieces[-1])
    optional = default is None and pieces[-1].endswith("?")
    if optional:
        pieces[-1] = pieces[-1][:-1]
    name, constraint_texts = pieces[0], pieces[1:]
    if not _PARAM_NAME.match(name):
        raise RouteTemplateError(f"bad parameter name {name!r} in route template {template!r}")
    if catch_all and optional:
        raise RouteTemplateError(f"a catch-all cannot be optional in {template!r}")
    constraints = tuple(_constraint(c, template) for c in constraint_texts)
    return _Parameter(
        name=name,
        group="",
        constraints=constraints,
        optional=optional or catch_all or default is not None,
        default=default,
        catch_all=catch_all,
    )


def _split_constraints(text: str) -> list[str]:
    """Split ``name:c1:c2(args)`` on colons that are not inside parentheses."""
    pieces: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char == ":" and depth == 0:
            pieces.append("".join(current))
            current = []
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        current.append(char)
    pieces.append("".join(current))
    return pieces


def _split_default(text: str) -> tuple[str | None, str]:
    """``x=value`` -> ("value", "x"); a ``=`` inside parentheses is part of a constraint."""
    depth = 0
    for i, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "=" and depth == 0:
            return text[i + 1 :], text[:i]
    return None, text


def _compile_segment(
    parts: list[_Part], group_base: int, template: str
) -> tuple[int, str, list[_Parameter]]:
    regex: list[str] = []
    params: list[_Parameter] = []
    for part in parts:
        if isinstance(part, str):
            regex.append(re.escape(part))
            continue
        group = f"p{group_base + len(params)}"
        if part.catch_all and len(parts) > 1:
            raise RouteTemplateError(f"a catch-all must be a whole segment in {template!r}")
        if part.optional and len(parts) > 1 and part is not parts[-1]:
            raise RouteTemplateError(f"an optional parameter must end its segment in {template!r}")
        if part.catch_all:
            regex.append(f"(?P<{group}>.*)")
        else:
            # Greedy, so that a complex segment like {name}.{ext} splits at the last dot,
            # as ASP.NET does when it matches complex segments right to left.
            regex.append(f"(?P<{group}>[^/]*)" if part.optional else f"(?P<{group}>[^/]+)")
        params.append(replace(part, group=group))
    if not params:
        kind = _LITERAL
    elif len(parts) > 1:
        kind = _COMPLEX
    elif params[0].catch_all:
        kind = _CATCH_ALL
    elif params[0].constraints:
        kind = _CONSTRAINED
    else:
        kind = _PARAMETER
    return kind, "".join(regex), params


def _constraint(text: str, template: str) -> Constraint:
    """The predicate of one inline constraint, e.g. ``int``, ``length(1,5)``, ``regex(^a)``."""
    name, _, rest = text.partition("(")
    key = name.strip().lower()
    args = rest[:-1] if rest.endswith(")") else rest
    simple = _SIMPLE_CONSTRAINTS.get(key)
    if simple is not None and not rest:
        return simple
    try:
        if key == "regex" and rest:
            pattern = re.compile(args, re.IGNORECASE)
            return lambda value: pattern.search(value) is not None
        numbers = [int(a) for a in args.split(",")] if rest else []
    except (ValueError, re.error) as error:
        raise RouteTemplateError(f"bad constraint {text!r} in {template!r}: {error}") from None
    if key == "minlength" and len(numbers) == 1:
        return lambda value: len(value) >= numbers[0]
    if key == "maxlength" and len(numbers) == 1:
        return lambda value: len(value) <= numbers[0]
    if key == "length" and len(numbers) == 1:
        return lambda value: len(value) == numbers[0]
    if key == "length" and len(numbers) == 2:
        return lambda value: numbers[0] <= len(value) <= numbers[1]
    if key == "min" and len(numbers) == 1:
        return lambda value: _in_range(value, numbers[0], _INT64[1])
    if key == "max" and len(numbers) == 1:
        return lambda value: _in_range(value, _INT64[0], numbers[0])
    if key == "range" and len(numbers) == 2:
        return lambda value: _in_range(value, numbers[0], numbers[1])
    raise RouteTemplateError(f"unknown route constraint {text!r} in {template!r}")


def _in_range(value: str, low: int, high: int) -> bool:
    return _INTEGER.match(value) is not None and low <= int(value) <= high


def _is_float(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


_SIMPLE_CONSTRAINTS: dict[str, Constraint] = {
    "int": lambda value: _in_range(value, *_INT32),
    "long": lambda value: _in_range(value, *_INT64),
    "bool": lambda value: value.lower() in ("true", "false"),
    "alpha": lambda value: _ALPHA.match(value) is not None,
    "guid": _is_guid,
    "decimal": _is_float,
    "double": _is_float,
    "float": _is_float,
    "datetime": _is_datetime,
    "required": lambda value: value != "",
}
