"""How tests steer the tenant's data: the areas themselves, and the areas' own methods carried
by the tenant (``tenant.add_job(...)`` is ``ProvisioningArea.add_job``), so that tests need not
know which area keeps what.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from tools.graph_tenant.areas import Area
from tools.graph_tenant.education import EducationArea
from tools.graph_tenant.industry_data import IndustryDataArea
from tools.graph_tenant.organization import OrganizationArea
from tools.graph_tenant.provisioning import ProvisioningArea
from tools.graph_tenant.provisioning_logs import ProvisioningLogsArea

AreaT = TypeVar("AreaT")
Params = ParamSpec("Params")
Result = TypeVar("Result")


def area_method(
    area: type[AreaT], method: Callable[Concatenate[AreaT, Params], Result]
) -> Callable[Concatenate[Steering, Params], Result]:
    """``method`` of the tenant's ``area``, as a method of the tenant itself (same signature
    and docstring), so that tests steer the areas' data through the tenant."""

    @functools.wraps(method)
    def on_tenant(tenant: Steering, /, *args: Params.args, **kwargs: Params.kwargs) -> Result:
        return method(tenant.area(area), *args, **kwargs)

    return on_tenant


class Steering:
    """The tenant's areas (one instance of each of :data:`~tools.graph_tenant.areas.AREAS`,
    in ``_areas``) and their steering methods."""

    _areas: tuple[Area, ...]

    @property
    def areas(self) -> tuple[Area, ...]:
        """The tenant's instance of each of :data:`AREAS`, in that order."""
        return self._areas

    def area(self, kind: type[AreaT]) -> AreaT:
        """The tenant's instance of ``kind``, one of :data:`AREAS` (KeyError for another): how
        tests steer an area whose methods the tenant does not carry."""
        for area in self._areas:
            if isinstance(area, kind):
                return area
        raise KeyError(kind)

    # Each is the area's own method or property (signature and docstring included).
    add_profile = area_method(EducationArea, EducationArea.add_profile)
    set_status = area_method(EducationArea, EducationArea.set_status)
    get_profile = area_method(EducationArea, EducationArea.get_profile)
    remove_profile = area_method(EducationArea, EducationArea.remove_profile)

    @property
    def profiles(self) -> dict[str, dict[str, dict[str, Any]]]:
        """A snapshot: id -> {"profile": ..., "status": ...}, in insertion order."""
        return self.area(EducationArea).profiles

    add_service_principal = area_method(ProvisioningArea, ProvisioningArea.add_service_principal)
    add_job = area_method(ProvisioningArea, ProvisioningArea.add_job)
    set_job_status = area_method(ProvisioningArea, ProvisioningArea.set_job_status)
    get_job = area_method(ProvisioningArea, ProvisioningArea.get_job)
    get_service_principal = area_method(ProvisioningArea, ProvisioningArea.get_service_principal)
    remove_job = area_method(ProvisioningArea, ProvisioningArea.remove_job)
    remove_service_principal = area_method(
        ProvisioningArea, ProvisioningArea.remove_service_principal
    )
    refuse_jobs = area_method(ProvisioningArea, ProvisioningArea.refuse_jobs)
    allow_jobs = area_method(ProvisioningArea, ProvisioningArea.allow_jobs)
    clear_job_actions = area_method(ProvisioningArea, ProvisioningArea.clear_job_actions)

    @property
    def job_actions(self) -> list[dict[str, Any]]:
        """A copy of every action taken on a job (start, pause, restart), oldest first."""
        return self.area(ProvisioningArea).job_actions

    @property
    def service_principals(self) -> dict[str, dict[str, dict[str, Any]]]:
        """A snapshot: service principal id -> job id -> job, in insertion order."""
        return self.area(ProvisioningArea).service_principals

    @property
    def service_principal_attributes(self) -> dict[str, dict[str, Any]]:
        """A snapshot: service principal id -> servicePrincipal (id, appId, displayName...)."""
        return self.area(ProvisioningArea).service_principal_attributes

    add_run = area_method(IndustryDataArea, IndustryDataArea.add_run)
    set_run = area_method(IndustryDataArea, IndustryDataArea.set_run)
    set_run_statistics = area_method(IndustryDataArea, IndustryDataArea.set_run_statistics)
    get_run = area_method(IndustryDataArea, IndustryDataArea.get_run)
    remove_run = area_method(IndustryDataArea, IndustryDataArea.remove_run)
    newest_run_id = area_method(IndustryDataArea, IndustryDataArea.newest_run_id)

    @property
    def runs(self) -> dict[str, dict[str, Any]]:
        """A snapshot: id -> {"run": ..., "statistics": ...}, in insertion order."""
        return self.area(IndustryDataArea).runs

    set_organization = area_method(OrganizationArea, OrganizationArea.set_organization)
    make_directory_sync_stale = area_method(
        OrganizationArea, OrganizationArea.make_directory_sync_stale
    )
    set_connect_cycle = area_method(OrganizationArea, OrganizationArea.set_connect_cycle)
    advance_directory_sync = area_method(OrganizationArea, OrganizationArea.advance_directory_sync)

    @property
    def organization(self) -> dict[str, Any]:
        """A copy of the organization."""
        return self.area(OrganizationArea).organization

    add_provisioning_events = area_method(
        ProvisioningLogsArea, ProvisioningLogsArea.add_provisioning_events
    )
    clear_provisioning_events = area_method(
        ProvisioningLogsArea, ProvisioningLogsArea.clear_provisioning_events
    )
    set_report_rate_limit = area_method(
        ProvisioningLogsArea, ProvisioningLogsArea.set_report_rate_limit
    )

    @property
    def provisioning_events(self) -> list[dict[str, Any]]:
        """A snapshot of every provisioning event, newest first."""
        return self.area(ProvisioningLogsArea).provisioning_events

    @property
    def report_rate_limit(self) -> tuple[int, float]:
        """(requests, per seconds) of the audit logs' limit; 0 requests: no limit."""
        return self.area(ProvisioningLogsArea).report_rate_limit

    @property
    def report_throttled_count(self) -> int:
        """429 answers the audit logs' limit gave (also counted in throttled_count)."""
        return self.area(ProvisioningLogsArea).report_throttled_count
