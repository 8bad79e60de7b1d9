"""Entra ID provisioning (v1.0): the synchronization jobs of service principals, with their
Graph and control endpoints; the principals themselves are listed by
:mod:`~tools.graph_tenant.service_principals`, the jobs' actions (start, pause, restart) are
taken by :mod:`~tools.graph_tenant.provisioning_actions`, generated and demo jobs are made by
:mod:`~tools.graph_tenant.provisioning_demo`.

Graph has no tenant-wide list of jobs: clients list the service principals, then ask each one
for its jobs (or are told the principals' ids).
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from typing import Any

from aiohttp import web

from tools.graph_tenant.common import GraphAnswer, GraphCall, Paging, Route, json_copy, page
from tools.graph_tenant.control import control_error, read_object
from tools.graph_tenant.provisioning_actions import ACTIONS, JobActions
from tools.graph_tenant.provisioning_resources import healthy_job_status, job_resource
from tools.graph_tenant.service_principals import (
    ServicePrincipalDirectory,
    directory_object_not_found,
    jobs_refusal,
)

SERVICE_PRINCIPALS_PATH = "/v1.0/servicePrincipals"
PRINCIPAL_PATH = rf"{SERVICE_PRINCIPALS_PATH}/(?P<sp>[^/]+)"
JOBS_PATH = rf"{PRINCIPAL_PATH}/synchronization/jobs"
JOB_PATH = rf"{JOBS_PATH}/(?P<job>[^/]+)"
ACTION_PATH = rf"{JOB_PATH}/(?P<action>{'|'.join(ACTIONS)})"


class ProvisioningArea:
    """The tenant's service principals: id -> job id -> synchronizationJob, in insertion order,
    and the principals' own attributes (:class:`ServicePrincipalDirectory`), kept apart so that
    :attr:`service_principals` stays the jobs alone; the actions taken on jobs are logged by
    :class:`~tools.graph_tenant.provisioning_actions.JobActions`."""

    source = "synchronization"
    # Refusing it refuses every path under a principal (its jobs, the principal itself), but
    # not the listing of principals.
    prefix = "/v1.0/servicePrincipals/"
    segment = "synchronization"

    def __init__(self, paging: Paging) -> None:
        self._paging = paging
        self._service_principals: dict[str, dict[str, dict[str, Any]]] = {}
        self._directory = ServicePrincipalDirectory(paging)
        self._actions = JobActions()

    # -- tenant data (delegated to by SimulatedTenant's methods of the same names) -----------

    def add_service_principal(
        self, sp_id: str, *, display_name: str | None = None, app_id: str | None = None
    ) -> None:
        """Make a service principal known (with no jobs); one that exists keeps its jobs, and
        changes the attributes given. A new one without a name is "Enterprise app <id[:8]>",
        without an appId gets one derived from its id."""
        self._service_principals.setdefault(sp_id, {})
        self._directory.add(sp_id, display_name, app_id)

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
        if sp_id not in self._service_principals:
            self.add_service_principal(sp_id)
        jobs = self._service_principals[sp_id]
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
        self._directory.remove(sp_id)

    def refuse_jobs(
        self, sp_id: str, status: int = 403, *, code: str | None = None, message: str | None = None
    ) -> None:
        """Answer the principal's jobs (listed or one by one, batched too) with an error, as
        Graph does to an app that may list principals but not read their synchronization:
        403 ``Authorization_RequestDenied`` unless another status is given. KeyError for an
        unknown principal, ValueError for a status that is not an error."""
        self._directory.refuse(sp_id, jobs_refusal(status, code, message))

    def allow_jobs(self, sp_id: str) -> None:
        """Serve the principal's jobs again (KeyError for an unknown principal)."""
        self._directory.allow(sp_id)

    @property
    def job_actions(self) -> list[dict[str, Any]]:
        """A copy of every action taken on a job (start, pause, restart), oldest first: each
        {"servicePrincipalId", "jobId", "action", "criteria" (a restart's, as sent; else
        null), "clientRequestId" (null when the client sent none), "time"}."""
        return self._actions.log

    def clear_job_actions(self) -> None:
        """Forget the actions taken on jobs."""
        self._actions.clear()

    @property
    def service_principal_attributes(self) -> dict[str, dict[str, Any]]:
        """A snapshot: service principal id -> servicePrincipal (id, appId, displayName...)."""
        return self._directory.principals

    @property
    def service_principals(self) -> dict[str, dict[str, dict[str, Any]]]:
        """A snapshot: service principal id -> job id -> job, in insertion order."""
        return json_copy(self._service_principals)

    # -- Graph -------------------------------------------------------------------------------

    def graph_routes(self) -> list[Route]:
        return [
            Route("GET", re.compile(SERVICE_PRINCIPALS_PATH), self._directory.serve_list),
            Route("GET", re.compile(PRINCIPAL_PATH), self._directory.serve_one),
            Route("GET", re.compile(JOBS_PATH), self._serve_job_list),
            Route("GET", re.compile(JOB_PATH), self._serve_job),
            Route("POST", re.compile(ACTION_PATH), self._serve_action),
        ]

    async def _serve_job_list(self, call: GraphCall, match: re.Match[str]) -> GraphAnswer:
        sp_id = match["sp"]
        jobs = self._service_principals.get(sp_id)
        if jobs is None:
            return directory_object_not_found(call, sp_id)
        refused = self._refused(call, sp_id)
        if refused is not None:
            return refused
        context = (
            f"{call.base_url}/v1.0/$metadata#servicePrincipals('{sp_id}')/synchronization/jobs"
        )
        return page(call, list(jobs), jobs.__getitem__, context, self._paging)

    async def _serve_job(self, call: GraphCall, match: re.Match[str]) -> GraphAnswer:
        job = self._find_job(call, match["sp"], match["job"])
        if isinstance(job, GraphAnswer):
            return job
        context = (
            f"{call.base_url}/v1.0/$metadata#servicePrincipals('{match['sp']}')"
            "/synchronization/jobs/$entity"
        )
        return call.answer(200, {"@odata.context": context, **job})

    async def _serve_action(self, call: GraphCall, match: re.Match[str]) -> GraphAnswer:
        """``POST .../jobs/{jobId}/start|pause|restart``: 204, or the error of the job."""
        sp_id, job_id = match["sp"], match["job"]
        job = self._find_job(call, sp_id, job_id)
        if isinstance(job, GraphAnswer):
            return job
        return self._actions.perform(call, sp_id, job_id, job, match["action"])

    def _find_job(self, call: GraphCall, sp_id: str, job_id: str) -> dict[str, Any] | GraphAnswer:
        """The stored job (not a copy), or Graph's answer instead of it: 404 for an unknown
        principal or job, the principal's refusal of its jobs."""
        jobs = self._service_principals.get(sp_id)
        if jobs is None:
            return directory_object_not_found(call, sp_id)
        refused = self._refused(call, sp_id)
        if refused is not None:
            return refused
        job = jobs.get(job_id)
        if job is None:
            return directory_object_not_found(call, job_id)
        return job

    def _refused(self, call: GraphCall, sp_id: str) -> GraphAnswer | None:
        refusal = self._directory.refusal(sp_id)
        if refusal is None:
            return None
        return call.error(refusal.status, refusal.code, refusal.message)

    # -- control API -------------------------------------------------------------------------

    def control_routes(self) -> list[web.RouteDef]:
        principal = "/_tenant/servicePrincipals/{sp}"
        job = f"{principal}/jobs/{{job}}"
        return [
            web.get("/_tenant/servicePrincipals", self._control_service_principal_list),
            web.put(principal, self._control_put_service_principal),
            web.delete(principal, self._control_delete_service_principal),
            web.post(f"{principal}/refuseJobs", self._control_refuse_jobs),
            web.delete(f"{principal}/refuseJobs", self._control_allow_jobs),
            web.put(job, self._control_put_job),
            web.patch(job, self._control_patch_job),
            web.delete(job, self._control_delete_job),
            *self._actions.control_routes(),
        ]

    def _principal_json(self, sp_id: str) -> dict[str, Any]:
        """A principal for the control API: its listed attributes, how its jobs are refused
        (null: they are not) and its jobs."""
        principal = self._directory.get(sp_id)
        refusal = self._directory.refusal(sp_id)
        return {
            "id": sp_id,
            "appId": principal["appId"],
            "displayName": principal["displayName"],
            "servicePrincipalType": principal["servicePrincipalType"],
            "refuseJobs": dataclasses.asdict(refusal) if refusal is not None else None,
            "jobs": list(self.get_service_principal(sp_id).values()),
        }

    async def _control_service_principal_list(self, _request: web.Request) -> web.Response:
        return web.json_response({"value": [self._principal_json(i) for i in self._directory]})

    async def _control_put_service_principal(self, request: web.Request) -> web.Response:
        """Add a principal, or change one: {"displayName"?, "appId"?}; answers it."""
        sp_id = request.match_info["sp"]
        body = await read_object(request)
        unknown = sorted(set(body) - {"displayName", "appId"})
        if unknown:
            raise control_error(
                web.HTTPBadRequest, f"Unknown service principal properties: {unknown}."
            )
        for name in ("displayName", "appId"):
            if name in body and not (isinstance(body[name], str) and body[name]):
                raise control_error(web.HTTPBadRequest, f"'{name}' must be a non-empty string.")
        created = sp_id not in self._service_principals
        self.add_service_principal(
            sp_id, display_name=body.get("displayName"), app_id=body.get("appId")
        )
        return web.json_response(self._principal_json(sp_id), status=201 if created else 200)

    async def _control_refuse_jobs(self, request: web.Request) -> web.Response:
        """Refuse the principal's jobs: {"status"? (403), "code"?, "message"?}."""
        sp_id = request.match_info["sp"]
        body = await read_object(request)
        unknown = sorted(set(body) - {"status", "code", "message"})
        if unknown:
            raise control_error(web.HTTPBadRequest, f"Unknown refusal properties: {unknown}.")
        try:
            self.refuse_jobs(sp_id, **body)
        except KeyError:
            raise self._unknown_principal(sp_id) from None
        except ValueError as exc:
            raise control_error(web.HTTPBadRequest, str(exc)) from None
        return web.Response(status=204)

    async def _control_allow_jobs(self, request: web.Request) -> web.Response:
        sp_id = request.match_info["sp"]
        try:
            self.allow_jobs(sp_id)
        except KeyError:
            raise self._unknown_principal(sp_id) from None
        return web.Response(status=204)

    async def _control_delete_service_principal(self, request: web.Request) -> web.Response:
        sp_id = request.match_info["sp"]
        try:
            self.remove_service_principal(sp_id)
        except KeyError:
            raise self._unknown_principal(sp_id) from None
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
    def _unknown_principal(sp_id: str) -> web.HTTPException:
        return control_error(web.HTTPNotFound, f"No service principal with id {sp_id!r}.")

    @staticmethod
    def _unknown_job(sp_id: str, job_id: str) -> web.HTTPException:
        return control_error(web.HTTPNotFound, f"No job {job_id!r} on service principal {sp_id!r}.")
