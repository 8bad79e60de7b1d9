"""Entra ID provisioning (v1.0): the synchronization jobs of service principals, with their
Graph and control endpoints, and generated and demo jobs.

Graph has no tenant-wide list of jobs, so clients must know the service principals' ids.
"""

from __future__ import annotations

import random
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tools.graph_tenant.common import (
    ID_NAMESPACE,
    GraphAnswer,
    GraphCall,
    Paging,
    Route,
    json_copy,
    page,
    random_offset_ns,
)
from tools.graph_tenant.control import control_error, read_object
from tools.graph_tenant.provisioning_resources import (
    entry_level_errors_job_status,
    failed_job_status,
    healthy_job_status,
    job_resource,
    job_status,
)

if TYPE_CHECKING:
    from tools.graph_tenant.server import SimulatedTenant

SERVICE_PRINCIPALS_PATH = "/v1.0/servicePrincipals"
JOBS_PATH = rf"{SERVICE_PRINCIPALS_PATH}/(?P<sp>[^/]+)/synchronization/jobs"


class ProvisioningArea:
    """The tenant's service principals: id -> job id -> synchronizationJob, in insertion order."""

    source = "synchronization"
    prefix = "/v1.0/servicePrincipals/"
    segment = "synchronization"

    def __init__(self, paging: Paging) -> None:
        self._paging = paging
        self._service_principals: dict[str, dict[str, dict[str, Any]]] = {}

    # -- tenant data (delegated to by SimulatedTenant's methods of the same names) -----------

    def add_service_principal(self, sp_id: str) -> None:
        """Make a service principal known (with no jobs); one that exists keeps its jobs."""
        self._service_principals.setdefault(sp_id, {})

    def add_job(
        self,
        sp_id: str,
        job_id: str | None = None,
        *,
        template_id: str = "scim",
        status: dict[str, Any] | None = None,
        schedule: dict[str, Any] | None = None,
    ) -> str:
        """Add or replace a provisioning job, creating its service principal if needed.

        ``status`` is kept verbatim (a realistic healthy Active status if None). Without a
        ``job_id``, one is made the way Graph makes them: ``<templateId>.<hex>.<hex>``.
        """
        if job_id is None:
            job_id = f"{template_id}.{uuid.uuid4().hex}.{uuid.uuid4().hex}"
        stored = json_copy(status) if status is not None else healthy_job_status()
        jobs = self._service_principals.setdefault(sp_id, {})
        jobs[job_id] = job_resource(job_id, template_id, stored, json_copy(schedule))
        return job_id

    def set_job_status(self, sp_id: str, job_id: str, /, **changes: Any) -> None:
        """Merge top-level keys into a job's status (KeyError for an unknown job)."""
        self._service_principals[sp_id][job_id]["status"].update(json_copy(changes))

    def get_job(self, sp_id: str, job_id: str) -> dict[str, Any]:
        """A copy of one synchronizationJob (KeyError for an unknown id)."""
        return json_copy(self._service_principals[sp_id][job_id])

    def get_service_principal(self, sp_id: str) -> dict[str, dict[str, Any]]:
        """A copy of one service principal's jobs, job id -> job (KeyError for an unknown id)."""
        return json_copy(self._service_principals[sp_id])

    def remove_job(self, sp_id: str, job_id: str) -> None:
        del self._service_principals[sp_id][job_id]

    def remove_service_principal(self, sp_id: str) -> None:
        del self._service_principals[sp_id]

    @property
    def service_principals(self) -> dict[str, dict[str, dict[str, Any]]]:
        """A snapshot: service principal id -> job id -> job, in insertion order."""
        return json_copy(self._service_principals)

    # -- Graph -------------------------------------------------------------------------------

    def graph_routes(self) -> list[Route]:
        return [
            Route("GET", re.compile(JOBS_PATH), self._serve_job_list),
            Route("GET", re.compile(rf"{JOBS_PATH}/(?P<job>[^/]+)"), self._serve_job),
        ]

    async def _serve_job_list(self, call: GraphCall, match: re.Match[str]) -> GraphAnswer:
        sp_id = match["sp"]
        jobs = self._service_principals.get(sp_id)
        if jobs is None:
            return self._directory_object_not_found(call, sp_id)
        context = (
            f"{call.base_url}/v1.0/$metadata#servicePrincipals('{sp_id}')/synchronization/jobs"
        )
        return page(call, list(jobs), jobs.__getitem__, context, self._paging)

    async def _serve_job(self, call: GraphCall, match: re.Match[str]) -> GraphAnswer:
        sp_id, job_id = match["sp"], match["job"]
        jobs = self._service_principals.get(sp_id)
        if jobs is None:
            return self._directory_object_not_found(call, sp_id)
        job = jobs.get(job_id)
        if job is None:
            return self._directory_object_not_found(call, job_id)
        context = (
            f"{call.base_url}/v1.0/$metadata#servicePrincipals('{sp_id}')"
            "/synchronization/jobs/$entity"
        )
        return call.answer(200, {"@odata.context": context, **job})

    @staticmethod
    def _directory_object_not_found(call: GraphCall, object_id: str) -> GraphAnswer:
        """Graph's answer for an unknown service principal (and here, for an unknown job)."""
        message = (
            f"Resource '{object_id}' does not exist or one of its queried reference-property "
            "objects are not present."
        )
        return call.error(404, "Request_ResourceNotFound", message)

    # -- control API -------------------------------------------------------------------------

    def control_routes(self) -> list[web.RouteDef]:
        principal = "/_tenant/servicePrincipals/{sp}"
        job = f"{principal}/jobs/{{job}}"
        return [
            web.get("/_tenant/servicePrincipals", self._control_service_principal_list),
            web.put(principal, self._control_put_service_principal),
            web.delete(principal, self._control_delete_service_principal),
            web.put(job, self._control_put_job),
            web.patch(job, self._control_patch_job),
            web.delete(job, self._control_delete_job),
        ]

    async def _control_service_principal_list(self, _request: web.Request) -> web.Response:
        principals = self.service_principals
        value = [{"id": sp_id, "jobs": list(jobs.values())} for sp_id, jobs in principals.items()]
        return web.json_response({"value": value})

    async def _control_put_service_principal(self, request: web.Request) -> web.Response:
        sp_id = request.match_info["sp"]
        created = sp_id not in self._service_principals
        self.add_service_principal(sp_id)
        jobs = list(self.get_service_principal(sp_id).values())
        return web.json_response({"id": sp_id, "jobs": jobs}, status=201 if created else 200)

    async def _control_delete_service_principal(self, request: web.Request) -> web.Response:
        sp_id = request.match_info["sp"]
        try:
            self.remove_service_principal(sp_id)
        except KeyError:
            raise control_error(
                web.HTTPNotFound, f"No service principal with id {sp_id!r}."
            ) from None
        return web.Response(status=204)

    async def _control_put_job(self, request: web.Request) -> web.Response:
        """Add or replace a job: {"templateId"?, "status"?, "schedule"?}."""
        sp_id, job_id = request.match_info["sp"], request.match_info["job"]
        body = await read_object(request)
        unknown = sorted(set(body) - {"templateId", "status", "schedule"})
        if unknown:
            raise control_error(web.HTTPBadRequest, f"Unknown job properties: {unknown}.")
        template_id = body.get("templateId", "scim")
        if not (isinstance(template_id, str) and template_id):
            raise control_error(web.HTTPBadRequest, "'templateId' must be a non-empty string.")
        for name in ("status", "schedule"):
            if body.get(name) is not None and not isinstance(body[name], dict):
                raise control_error(web.HTTPBadRequest, f"'{name}' must be a JSON object.")
        created = job_id not in self._service_principals.get(sp_id, {})
        self.add_job(
            sp_id,
            job_id,
            template_id=template_id,
            status=body.get("status"),
            schedule=body.get("schedule"),
        )
        return web.json_response(self.get_job(sp_id, job_id), status=201 if created else 200)

    async def _control_patch_job(self, request: web.Request) -> web.Response:
        """Merge the body's top-level keys into the job's status; answers the job."""
        sp_id, job_id = request.match_info["sp"], request.match_info["job"]
        changes = await read_object(request)
        try:
            self.set_job_status(sp_id, job_id, **changes)
        except KeyError:
            raise self._unknown_job(sp_id, job_id) from None
        return web.json_response(self.get_job(sp_id, job_id))

    async def _control_delete_job(self, request: web.Request) -> web.Response:
        sp_id, job_id = request.match_info["sp"], request.match_info["job"]
        try:
            self.remove_job(sp_id, job_id)
        except KeyError:
            raise self._unknown_job(sp_id, job_id) from None
        return web.Response(status=204)

    @staticmethod
    def _unknown_job(sp_id: str, job_id: str) -> web.HTTPException:
        return control_error(web.HTTPNotFound, f"No job {job_id!r} on service principal {sp_id!r}.")


# -- generated and demo jobs -----------------------------------------------------------------

# Job statuses of ``--jobs`` tenants: mostly steady, with every kind of trouble present.
GENERATED_JOB_KINDS = (
    ("Active", 70),
    ("EntryLevelErrors", 10),
    ("Failed", 5),
    ("Quarantine", 5),
    ("Paused", 5),
    ("NotRun", 3),
    ("NotConfigured", 2),
)
# The demo's service principals and their jobs: (template, kind) per service principal.
DEMO_SERVICE_PRINCIPAL_IDS = (
    str(uuid.uuid5(ID_NAMESPACE, "demo/servicePrincipal/1")),
    str(uuid.uuid5(ID_NAMESPACE, "demo/servicePrincipal/2")),
)
DEMO_JOBS = (
    (("scim", "Active"), ("scim", "Quarantine")),
    (("scim", "EntryLevelErrors"), ("scim", "Paused")),
)


def kind_status(kind: str, now_ns: int) -> dict[str, Any]:
    """A job status for a generated kind: a synchronizationStatusCode or an execution state."""
    match kind:
        case "EntryLevelErrors":
            return entry_level_errors_job_status(now_ns=now_ns)
        case "Failed":
            return failed_job_status(now_ns=now_ns)
        case _:
            return job_status(kind, now_ns=now_ns)


def generated_job_id(template_id: str, key: str) -> str:
    """A job id shaped like Graph's (``<templateId>.<hex>.<hex>``), derived from ``key``."""
    first = uuid.uuid5(ID_NAMESPACE, f"job/{key}").hex
    second = uuid.uuid5(ID_NAMESPACE, f"app/{key}").hex
    return f"{template_id}.{first}.{second}"


def populate_jobs(
    tenant: SimulatedTenant, count: int, seed: int, per_service_principal: int = 10
) -> list[str]:
    """Add ``count`` jobs, ``per_service_principal`` to a service principal; returns the
    service principals' ids. Ids and statuses depend only on ``seed`` and the index.
    """
    if per_service_principal < 1:
        raise ValueError(f"per_service_principal must be >= 1, not {per_service_principal}.")
    rng = random.Random(seed)
    now = time.time_ns()
    kinds, weights = zip(*GENERATED_JOB_KINDS, strict=True)
    sp_ids: list[str] = []
    for index in range(count):
        number = index // per_service_principal
        sp_id = str(uuid.uuid5(ID_NAMESPACE, f"{seed}/servicePrincipal/{number}"))
        if not sp_ids or sp_ids[-1] != sp_id:
            tenant.add_service_principal(sp_id)
            sp_ids.append(sp_id)
        kind = rng.choices(kinds, weights)[0]
        status = kind_status(kind, now - random_offset_ns(rng, 0, 1800))
        tenant.add_job(sp_id, generated_job_id("scim", f"{seed}/{index}"), status=status)
    return sp_ids


def populate_demo_provisioning(tenant: SimulatedTenant, now_ns: int) -> None:
    """Add the demo's service principals: one job healthy, one quarantined on escrows, one
    with entry-level errors, one paused."""
    for sp_id, jobs in zip(DEMO_SERVICE_PRINCIPAL_IDS, DEMO_JOBS, strict=True):
        tenant.add_service_principal(sp_id)
        for template_id, kind in jobs:
            job_id = generated_job_id(template_id, f"demo/{sp_id}/{kind}")
            tenant.add_job(sp_id, job_id, template_id=template_id, status=kind_status(kind, now_ns))
