"""The tenant's service principals as the directory lists them (v1.0 ``GET /servicePrincipals``):
their attributes, kept beside the provisioning jobs, and the principals whose jobs the tenant
refuses to show, as Graph does to an app that may list principals but not read their jobs.

Apps find the provisioning jobs to watch by listing every service principal (``$select``ing a
few properties, thousands of principals in a school district) and then asking each for its
jobs; most have none.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from tools.graph_tenant.common import (
    ID_NAMESPACE,
    GraphAnswer,
    GraphCall,
    Paging,
    default_error,
    json_copy,
    page,
)
from tools.graph_tenant.misbehaviour import Refusal
from tools.graph_tenant.selection import parse_select, selected_properties, type_properties

if TYPE_CHECKING:
    from tools.graph_tenant.server import SimulatedTenant

# The Graph type a principal is: a $select may name its v1.0 properties (the SDK's model says
# which); those the tenant does not store are answered null.
SERVICE_PRINCIPAL_TYPE = "servicePrincipal"
# What a listing without $select shows of each principal (Graph sends them all; these suffice).
LISTED_PROPERTIES = ("id", "appId", "displayName", "servicePrincipalType")
# Graph's answer to an app that lacks the permission to read a principal's jobs.
REFUSED_JOBS_CODE = "Authorization_RequestDenied"
REFUSED_JOBS_MESSAGE = "Insufficient privileges to complete the operation."
# Names of generated principals: the apps a school district's tenant is full of.
APP_NAMES = (
    "Microsoft Teams",
    "Zoom",
    "Canva for Education",
    "Adobe Express",
    "Kahoot!",
    "Quizlet",
    "Nearpod",
    "Seesaw",
    "Schoology",
    "PowerSchool SIS",
    "ClassLink",
    "Clever SSO",
    "Khan Academy",
    "Newsela",
    "Padlet",
    "Edpuzzle",
    "Turnitin",
    "GoGuardian",
    "Securly",
    "IXL Learning",
    "BrainPOP",
    "Pear Deck",
    "Flip",
    "Wakelet",
    "Book Creator",
    "Minecraft Education",
    "GitHub Enterprise",
    "Atlassian Cloud",
    "Salesforce",
    "Box",
)


def default_display_name(sp_id: str) -> str:
    """A principal added without a name: an enterprise app named after its id."""
    return f"Enterprise app {sp_id[:8]}"


def default_app_id(sp_id: str) -> str:
    """The appId of a principal added without one: a uuid derived from its id."""
    return str(uuid.uuid5(ID_NAMESPACE, f"appId/{sp_id}"))


def app_display_name(index: int) -> str:
    """The ``index``-th generated app's name: the app names in turn, numbered once they repeat."""
    name = APP_NAMES[index % len(APP_NAMES)]
    rounds = index // len(APP_NAMES)
    return f"{name} ({rounds + 1})" if rounds else name


def principal_resource(sp_id: str, display_name: str, app_id: str) -> dict[str, Any]:
    """A servicePrincipal of an enterprise app, with the properties the tenant stores."""
    return {
        "id": sp_id,
        "accountEnabled": True,
        "appDisplayName": display_name,
        "appId": app_id,
        "displayName": display_name,
        "servicePrincipalNames": [app_id],
        "servicePrincipalType": "Application",
        "tags": ["WindowsAzureActiveDirectoryIntegratedApp"],
    }


def jobs_refusal(status: int = 403, code: str | None = None, message: str | None = None) -> Refusal:
    """How a principal's jobs are refused: Graph's 403 for a missing permission, or the error
    of another status. ValueError for a status that is not an error."""
    if status == 403:
        default_code, default_message = REFUSED_JOBS_CODE, REFUSED_JOBS_MESSAGE
    else:
        default_code, default_message = default_error(status)
    return Refusal(status, code or default_code, message or default_message)


class ServicePrincipalDirectory:
    """Every service principal the provisioning area knows (id -> servicePrincipal, in
    insertion order) and the refusals of their jobs; serves Graph's listing of them."""

    def __init__(self, paging: Paging) -> None:
        self._paging = paging
        type_properties("v1.0", SERVICE_PRINCIPAL_TYPE)  # read once now, not mid-answer
        self._principals: dict[str, dict[str, Any]] = {}
        self._refusals: dict[str, Refusal] = {}

    def __contains__(self, sp_id: object) -> bool:
        return sp_id in self._principals

    def __iter__(self) -> Iterator[str]:
        """The principals' ids, in insertion order (a copy: changes do not disturb it)."""
        return iter(list(self._principals))

    def add(self, sp_id: str, display_name: str | None, app_id: str | None) -> None:
        """Make a principal known, or change the attributes given of one that is."""
        principal = self._principals.get(sp_id)
        if principal is None:
            self._principals[sp_id] = principal_resource(
                sp_id,
                display_name if display_name is not None else default_display_name(sp_id),
                app_id if app_id is not None else default_app_id(sp_id),
            )
            return
        if display_name is not None:
            principal["displayName"] = principal["appDisplayName"] = display_name
        if app_id is not None:
            principal["appId"] = app_id
            principal["servicePrincipalNames"] = [app_id]

    def remove(self, sp_id: str) -> None:
        del self._principals[sp_id]
        self._refusals.pop(sp_id, None)

    def get(self, sp_id: str) -> dict[str, Any]:
        """A copy of one principal (KeyError for an unknown id)."""
        return json_copy(self._principals[sp_id])

    @property
    def principals(self) -> dict[str, dict[str, Any]]:
        """A snapshot: id -> servicePrincipal, in insertion order."""
        return json_copy(self._principals)

    # -- refused jobs ------------------------------------------------------------------------

    def refuse(self, sp_id: str, refusal: Refusal) -> None:
        if sp_id not in self._principals:
            raise KeyError(sp_id)
        self._refusals[sp_id] = refusal

    def allow(self, sp_id: str) -> None:
        if sp_id not in self._principals:
            raise KeyError(sp_id)
        self._refusals.pop(sp_id, None)

    def refusal(self, sp_id: str) -> Refusal | None:
        """What the principal's jobs answer instead of themselves, if they are refused."""
        return self._refusals.get(sp_id)

    # -- Graph -------------------------------------------------------------------------------

    async def serve_list(self, call: GraphCall, _match: re.Match[str]) -> GraphAnswer:
        """``GET /servicePrincipals``: every principal, ``$select`` honoured, paged."""
        try:
            shown, context = self._selection(call, "servicePrincipals")
        except ValueError as exc:
            return call.error(400, "BadRequest", str(exc))
        principals = self._principals

        def item(sp_id: str) -> dict[str, Any]:
            return selected_properties(principals[sp_id], shown)

        return page(call, list(principals), item, context, self._paging, carried=("$select",))

    async def serve_one(self, call: GraphCall, match: re.Match[str]) -> GraphAnswer:
        """``GET /servicePrincipals/{id}``: one principal, ``$select`` honoured."""
        principal = self._principals.get(match["sp"])
        if principal is None:
            return directory_object_not_found(call, match["sp"])
        try:
            shown, context = self._selection(call, "servicePrincipals")
        except ValueError as exc:
            return call.error(400, "BadRequest", str(exc))
        body = {"@odata.context": f"{context}/$entity", **selected_properties(principal, shown)}
        return call.answer(200, body)

    @staticmethod
    def _selection(call: GraphCall, entity_set: str) -> tuple[Sequence[str], str]:
        """The properties to show besides ``id`` and the ``@odata.context`` that says so:
        those ``$select`` names, or :data:`LISTED_PROPERTIES`. ValueError (Graph's 400
        message) for a property a servicePrincipal does not have."""
        selected = parse_select(call, SERVICE_PRINCIPAL_TYPE)
        context = f"{call.base_url}/v1.0/$metadata#{entity_set}"
        if selected is None:
            return LISTED_PROPERTIES[1:], context
        return selected, f"{context}({','.join(selected)})"


def directory_object_not_found(call: GraphCall, object_id: str) -> GraphAnswer:
    """Graph's answer for an unknown directory object (here also for an unknown job)."""
    message = (
        f"Resource '{object_id}' does not exist or one of its queried reference-property "
        "objects are not present."
    )
    return call.error(404, "Request_ResourceNotFound", message)


def populate_service_principals(tenant: SimulatedTenant, count: int, seed: int) -> list[str]:
    """Add ``count`` service principals without jobs (apps nobody provisions), as a district's
    tenant has thousands; returns their ids. Ids and names depend only on ``seed`` and the
    index."""
    ids: list[str] = []
    for index in range(count):
        sp_id = str(uuid.uuid5(ID_NAMESPACE, f"{seed}/principal/{index}"))
        tenant.add_service_principal(sp_id, display_name=app_display_name(index))
        ids.append(sp_id)
    return ids
