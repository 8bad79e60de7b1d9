"""The routes of provisioning jobs, under ``/api``, mirroring Graph's paths and shapes."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from shared.core.api import ApiCall, PageRequest, Reply, next_link
from shared.core.errors import InvalidInputError, NotFoundError
from shared.core.principal import caller_name
from shared.sources.base import Operation, Services
from shared.sources.documents import document_reply
from shared.sources.provisioning_jobs.action_models import client_request_id, restart_body
from shared.sources.provisioning_jobs.actions import act_on_job, check_enabled, job_action
from shared.sources.provisioning_jobs.const import JOB_KEY_SEPARATOR
from shared.sources.provisioning_jobs.ids import job_key, service_principal_id, split_job_key
from shared.sources.provisioning_jobs.settings import SERVICE_PRINCIPALS_SETTING
from shared.storage.keys import validate_key

if TYPE_CHECKING:
    from shared.sources.provisioning_jobs.source import ProvisioningJobs

JOBS_ROUTE = "servicePrincipals/{servicePrincipalId}/synchronization/jobs"
FAILURES_ROUTE = "auditLogs/provisioning"
# The one filter /api/auditLogs/provisioning takes (Graph's form, quotes and case).
_JOB_FILTER = re.compile(r"jobId eq '([^']+)'")
_FAILURE_QUERY = frozenset({"$filter", "$top", "$skiptoken", "code"})


class JobRoutes:
    """The handlers, bound to the source whose cache they read."""

    def __init__(self, source: ProvisioningJobs) -> None:
        self._source = source

    def operations(self) -> tuple[Operation, ...]:
        job = JOBS_ROUTE + "/{jobId}"
        return (
            Operation("list_synchronization_jobs", JOBS_ROUTE, "GET", self.list_jobs_of),
            Operation("get_synchronization_job", job, "GET", self.get_job),
            Operation("list_provisioning_failures", FAILURES_ROUTE, "GET", self.list_failures),
            Operation("restart_synchronization_job", job + "/restart", "POST", self.restart),
            Operation("pause_synchronization_job", job + "/pause", "POST", self.pause),
            Operation("start_synchronization_job", job + "/start", "POST", self.start),
        )

    async def list_jobs_of(self, call: ApiCall, services: Services) -> Reply:
        """``GET /api/servicePrincipals/{id}/synchronization/jobs``: the cached jobs, as Graph
        sent them."""
        sp_id = service_principal_id(call.route.get("servicePrincipalId", ""))
        jobs = await self._source.cached_items(services.store, id_prefix=sp_id + JOB_KEY_SEPARATOR)
        settings = services.settings
        if not jobs and sp_id not in self._source.own_settings(settings).service_principal_ids:
            message = f"The service principal '{sp_id}' is not monitored"
            raise NotFoundError(f"{message} (see {SERVICE_PRINCIPALS_SETTING}).")
        context = f"/v1.0/$metadata#servicePrincipals('{sp_id}')/synchronization/jobs"
        body = {
            "@odata.context": settings.graph_base_url + context,
            "value": [job.resource for job in jobs],
        }
        return Reply(body)

    async def get_job(self, call: ApiCall, services: Services) -> Reply:
        """``GET .../synchronization/jobs/{jobId}``: one cached job with its whole status."""
        sp_id = service_principal_id(call.route.get("servicePrincipalId", ""))
        job_id = call.route.get("jobId", "")
        key = validate_key(job_key(sp_id, job_id), name="jobId")
        job = await self._source.cached(services.store, key)
        if job is None:
            raise NotFoundError(f"No synchronization job '{job_id}' of '{sp_id}' is cached.")
        context = f"/v1.0/$metadata#servicePrincipals('{sp_id}')/synchronization/jobs/$entity"
        return document_reply(job, services.settings, context)

    async def list_failures(self, call: ApiCall, services: Services) -> Reply:
        """``GET /api/auditLogs/provisioning?$filter=jobId eq '{jobId}'``: a monitored job's
        failures from the provisioning logs (the newest 500, at most 30 days), newest first,
        as Graph sent them (provisioningObjectSummary)."""
        unknown = sorted(set(call.query) - _FAILURE_QUERY)
        given = call.query.get("$filter", "").strip()
        match = _JOB_FILTER.fullmatch(given)
        if unknown or match is None:
            if unknown:
                wrong = f"'{unknown[0]}' is not supported"
            else:
                wrong = f"$filter '{given}' is not supported" if given else "$filter is required"
            raise InvalidInputError(
                f"{wrong}: this route takes $filter=jobId eq '{{jobId}}' and $top only "
                "(the failures of one monitored provisioning job).",
                target=unknown[0] if unknown else "$filter",
            )
        job_id = validate_key(match.group(1), name="jobId")
        keys = [item.id for item in await services.store.statuses.summaries([self._source.name])]
        # A job id is unique only within its principal; in practice (template.guid.guid) it
        # names one job, whose failures are served.
        key = next((key for key in keys if split_job_key(key)[1] == job_id), None)
        if key is None:
            raise NotFoundError(f"No monitored provisioning job has the id '{job_id}'.")
        page = PageRequest.of(call)
        failures, continuation = await services.store.item_logs.page(
            self._source.name, key, top=page.top, continuation=page.continuation
        )
        base = services.settings.graph_base_url
        body = {"@odata.context": f"{base}/v1.0/$metadata#{FAILURES_ROUTE}", "value": failures}
        if continuation:
            filters = {"$filter": call.query["$filter"]}
            body["@odata.nextLink"] = next_link(call, page, continuation, filters)
        return Reply(body)

    async def restart(self, call: ApiCall, services: Services) -> Reply:
        """``POST .../jobs/{jobId}/restart`` with Graph's body (its criteria's resetScope)."""
        check_enabled(self._source.own_settings(services.settings))  # before anything else
        body, flags = restart_body(call.body, call.json_body() if call.body.strip() else None)
        return await self._act("restart", call, services, body, flags)

    async def pause(self, call: ApiCall, services: Services) -> Reply:
        """``POST .../jobs/{jobId}/pause`` (no body)."""
        check_enabled(self._source.own_settings(services.settings))
        return await self._act("pause", call, services, None, [])

    async def start(self, call: ApiCall, services: Services) -> Reply:
        """``POST .../jobs/{jobId}/start`` (no body)."""
        check_enabled(self._source.own_settings(services.settings))
        return await self._act("start", call, services, None, [])

    async def _act(
        self,
        name: str,
        call: ApiCall,
        services: Services,
        body: dict[str, Any] | None,
        flags: list[str],
    ) -> Reply:
        """202 with the job as Graph has it after the action, or 204 when it could not be
        read back (the next poll reads it)."""
        action = job_action(
            name,
            call.route.get("servicePrincipalId", ""),
            call.route.get("jobId", ""),
            body,
            by=caller_name(call, services.settings.platform_sign_in),
            client_request_id=client_request_id(call.header("x-ms-client-request-id")),
        )
        job = await act_on_job(self._source, services, action, flags)
        if job is None:
            return Reply(None)
        sp_id = action.service_principal_id
        context = f"/v1.0/$metadata#servicePrincipals('{sp_id}')/synchronization/jobs/$entity"
        reply = document_reply(job, services.settings, context)
        return Reply(reply.body, accepted=True)
