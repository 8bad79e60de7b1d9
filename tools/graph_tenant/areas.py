"""The simulated Graph APIs ("areas") and what the tenant expects of each.

An area is a class that takes the tenant's page sizes (:class:`Paging`) and is an
:class:`Area`: it keeps its data and brings its Graph routes and its ``/_tenant/`` control
routes. Simulating one more Graph API is one more module with such a class, and one more entry
in :data:`AREAS`; tests steer it through ``SimulatedTenant.area``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from aiohttp import web

from tools.graph_tenant.common import Paging, Route
from tools.graph_tenant.education import EducationArea
from tools.graph_tenant.industry_data import IndustryDataArea
from tools.graph_tenant.organization import OrganizationArea
from tools.graph_tenant.provisioning import ProvisioningArea
from tools.graph_tenant.provisioning_logs import ProvisioningLogsArea


class Area(Protocol):
    """A simulated Graph API: its data, its Graph routes and its control routes.

    ``source`` is the name ``SimulatedTenant.refuse_source`` takes, ``prefix`` the path prefix
    of all its Graph URLs (what a refusal answers; one per version for an API that v1.0 and
    beta both serve) and ``segment`` the path segment a refusal's default message names, as
    Graph does once it no longer knows an API.
    """

    source: str
    prefix: str | tuple[str, ...]
    segment: str

    def graph_routes(self) -> Sequence[Route]: ...

    def control_routes(self) -> Sequence[web.RouteDef]: ...


# Every area the tenant serves; their Graph routes are tried in this order.
AREAS: tuple[Callable[[Paging], Area], ...] = (
    EducationArea,
    ProvisioningArea,
    IndustryDataArea,
    OrganizationArea,
    ProvisioningLogsArea,
)
