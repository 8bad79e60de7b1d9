"""The OpenAPI 2.0 document (shared/http/openapi): the committed connector definition is the
generated one, it is valid Swagger 2.0, it describes exactly the routes the app registers,
its trigger is a Power Automate webhook trigger, and its schemas agree with the models that
validate requests and with the shapes Graph (the simulated tenant) sends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import jsonschema
import pytest
from openapi_spec_validator import OpenAPIV2SpecValidator, validate

from shared.core.changes import ChangeEvent
from shared.core.errors import InvalidInputError
from shared.core.subscriptions import SubscriptionRequest, parse_subscription_request
from shared.core.validation import parse_model
from shared.http.openapi.document import build_document, document_json
from shared.http.routes import api_operations
from shared.sources import SOURCE_NAMES
from shared.sources.school_data_sync.models import ProfileStatusPatch, parse_profile_status_patch
from shared.tenants.models import TenantChange, TenantRequest
from tests.support.app import registered_functions
from tests.support.samples import SEED, SEED_ID, SYNC_STATUS_EXAMPLE
from tools import graph_tenant
from tools.export_connector import DEFINITION, main

OPERATION_IDS = {
    "PostBoardItemAction",
    "ListSynchronizationProfiles",
    "GetProfileStatus",
    "UpdateProfileStatus",
    "ListStatuses",
    "GetStatusHistory",
    "ListSynchronizationJobs",
    "GetSynchronizationJob",
    "ListProvisioningFailures",
    "RestartSynchronizationJob",
    "PauseSynchronizationJob",
    "StartSynchronizationJob",
    "ListOrganization",
    "GetOrganization",
    "ListIndustryDataRuns",
    "GetIndustryDataRun",
    "GetIndustryDataRunStatistics",
    "GetIndustryDataRunStatisticsFunction",
    "GetHealth",
    "CreateSubscription",
    "ListSubscriptions",
    "GetSubscription",
    "DeleteSubscription",
    "GetOpenApiDocument",
    "GetBoard",
    "GetBoardItem",
    "GetBoardIncident",
    "PostBoardIncidentAction",
    "ListTenants",
    "CreateTenant",
    "GetTenant",
    "UpdateTenant",
    "DeleteTenant",
    "GetTenantConsent",
    "CreateTenantKey",
    "ListTenantKeys",
    "DeleteTenantKey",
    "ListIncidents",
    "GetIncident",
    "AcknowledgeIncident",
    "SnoozeIncident",
    "ResolveIncident",
    "CreateIncidentSubscription",
    "ListMaintenanceWindows",
    "CreateMaintenanceWindow",
    "GetMaintenanceWindow",
    "DeleteMaintenanceWindow",
}
# Every route of a tenant's, again under /tenants/{tenantId} (http.tenant_scope).
NOT_PER_TENANT = {
    "PostBoardItemAction", "GetHealth", "GetOpenApiDocument", "GetBoard", "GetBoardItem",
    "GetBoardIncident", "PostBoardIncidentAction",
    "ListTenants", "CreateTenant", "GetTenant", "UpdateTenant", "DeleteTenant",
    "GetTenantConsent", "CreateTenantKey", "ListTenantKeys", "DeleteTenantKey",
}  # fmt: skip
OPERATION_IDS |= {"Tenant" + name for name in OPERATION_IDS - NOT_PER_TENANT}
METHODS = {"get", "put", "post", "delete", "options", "head", "patch"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_document()


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def walk(node: Any, where: str = "#") -> Iterator[tuple[str, Any]]:
    """Every dict in the document, with where it is."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from walk(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{where}/{index}")


def json_schema(node: Any) -> Any:
    """A Swagger 2.0 schema as JSON Schema (draft 4): x-nullable becomes a null type."""
    if isinstance(node, list):
        return [json_schema(value) for value in node]
    if not isinstance(node, dict):
        return node
    out = {key: json_schema(value) for key, value in node.items()}
    if out.pop("x-nullable", False):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def validator(document: dict[str, Any], definition: str) -> jsonschema.Draft4Validator:
    root = {"$ref": f"#/definitions/{definition}", "definitions": document["definitions"]}
    return jsonschema.Draft4Validator(json_schema(root))


# -- the committed file and the spec ------------------------------------------------------------


def test_committed_definition_is_the_generated_document(document: dict[str, Any]) -> None:
    committed = DEFINITION.read_text(encoding="utf-8")
    assert committed == document_json(), "run: python -m tools.export_connector"
    assert json.loads(committed) == document


def test_export_check_reports_a_stale_file(tmp_path: Path) -> None:
    target = tmp_path / "apiDefinition.swagger.json"
    assert main(["--check", "--output", str(target)]) == 1  # missing
    assert main(["--output", str(target)]) == 0
    assert main(["--check", "--output", str(target)]) == 0
    target.write_text(target.read_text() + " ")
    assert main(["--check", "--output", str(target)]) == 1


def test_build_document_is_deterministic(document: dict[str, Any]) -> None:
    assert json.dumps(build_document()) == json.dumps(document)


def test_document_is_valid_swagger_2(document: dict[str, Any]) -> None:
    validate(document, cls=OpenAPIV2SpecValidator)
    assert document["swagger"] == "2.0"
    assert document["basePath"] == "/api"
    assert document["schemes"] == ["https"]


def test_no_json_schema_constructs_swagger_2_lacks(document: dict[str, Any]) -> None:
    for where, node in walk(document):
        for key in ("anyOf", "oneOf", "allOf", "not", "$defs", "const", "prefixItems"):
            assert key not in node, f"{where} has {key}"
        assert node.get("type") != "null" and not isinstance(node.get("type"), list), where
        if "$ref" in node:
            assert node["$ref"].startswith("#/definitions/"), where
            assert node["$ref"].rsplit("/", 1)[1] in document["definitions"], where


# -- routes ------------------------------------------------------------------------------------


def http_routes() -> dict[tuple[str, str], bool]:
    """(path, method) -> anonymous, for every HTTP function the app registers."""
    routes = {}
    for function in registered_functions().values():
        trigger = function.get_trigger()
        if trigger.get_binding_name() != "httpTrigger":
            continue
        # No auth level of its own: the app's (FUNCTION, in function_app.py).
        anonymous = trigger.auth_level == func.AuthLevel.ANONYMOUS
        for method in trigger.methods:
            routes[("/" + trigger.route, str(method.value).lower())] = anonymous
    return routes


def test_every_registered_route_is_described_and_nothing_else(document: dict[str, Any]) -> None:
    described = {(path, method) for path, method, _ in operations(document)}
    registered = set(http_routes())
    assert described - registered == set(), "described but not registered"
    assert registered - described == set(), "registered but not described"


def test_security_matches_each_routes_auth_level(document: dict[str, Any]) -> None:
    assert document["securityDefinitions"] == {
        "api_key": {"type": "apiKey", "in": "header", "name": "x-functions-key"}
    }
    routes = http_routes()
    # A tenant's routes: open to the host, keyed by the app (a key of that tenant, in the
    # same header), so the connector sends its key as for any other route.
    by_app = {
        ("/" + operation.route, operation.method.lower())
        for operation in api_operations()
        if operation.checked_by_app
    }
    assert by_app and all(path.startswith("/tenants/{tenantId}/") for path, _ in by_app)
    for path, method, operation in operations(document):
        anonymous = routes.get((path, method), path in ("/health", "/openapi.json"))
        anonymous = anonymous and (path, method) not in by_app
        expected = [] if anonymous else [{"api_key": []}]
        assert operation["security"] == expected, (path, method)
        assert ("401" in operation["responses"]) is not anonymous, (path, method)
    anonymous_paths = {
        path for (path, method), anonymous in routes.items()
        if anonymous and (path, method) not in by_app
    }  # fmt: skip
    assert anonymous_paths <= {"/health", "/openapi.json"}


def test_operations_are_named_and_described_for_power_automate(document: dict[str, Any]) -> None:
    found = [operation["operationId"] for _, _, operation in operations(document)]
    assert sorted(found) == sorted(OPERATION_IDS)
    for path, method, operation in operations(document):
        assert operation["summary"] and len(operation["summary"]) <= 80, (path, method)
        assert operation["description"], (path, method)
        assert operation["x-ms-visibility"] in ("important", "advanced", "internal")
        for parameter in operation["parameters"]:
            assert parameter["x-ms-summary"], (path, method, parameter["name"])
            if parameter["in"] == "path":
                assert parameter["required"] is True
                assert "{" + parameter["name"] + "}" in path
            else:
                assert parameter["x-ms-visibility"] in ("important", "advanced", "internal")
        declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
        assert {part[1:-1] for part in path.split("/") if part.startswith("{")} == declared
    paged = document["paths"]["/statuses"]["get"]["parameters"]
    skiptoken = next(p for p in paged if p["name"] == "$skiptoken")
    assert skiptoken["x-ms-visibility"] == "internal"
    assert document["paths"]["/openapi.json"]["get"]["x-ms-visibility"] == "internal"


def test_every_schema_property_has_a_title_and_visibility(document: dict[str, Any]) -> None:
    for where, node in walk(document["definitions"], "#/definitions"):
        if where.endswith("/properties") or "properties" not in node:
            continue
        for name, schema in node["properties"].items():
            if "$ref" in schema:
                continue
            assert schema.get("x-ms-summary"), f"{where}/properties/{name}"
            assert schema.get("x-ms-visibility") in ("important", "advanced", "internal")


def test_errors_are_graph_shaped_and_503_says_when_to_retry(document: dict[str, Any]) -> None:
    error = document["definitions"]["Error"]
    assert error["required"] == ["error"]
    detail = document["definitions"]["ErrorDetail"]
    assert set(detail["properties"]) == {"code", "message", "target"}
    assert set(detail["required"]) == {"code", "message"}
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            if status == "503":
                assert "Retry-After" in response["headers"], (path, method)
            html = operation.get("produces") == ["text/html"]  # the board: pages for people
            if status.startswith("4") and status != "401" and not html:
                assert response["schema"] == {"$ref": "#/definitions/Error"}, (path, status)


# -- the trigger -------------------------------------------------------------------------------


def test_the_trigger_is_a_power_automate_webhook(document: dict[str, Any]) -> None:
    triggers = [(p, m, o) for p, m, o in operations(document) if "x-ms-trigger" in o]
    assert [(p, m, o["operationId"]) for p, m, o in triggers] == [
        ("/subscriptions", "post", "CreateSubscription"),
        ("/incidentSubscriptions", "post", "CreateIncidentSubscription"),
        # A customer's flow: the changes (or incidents) of one tenant.
        ("/tenants/{tenantId}/subscriptions", "post", "TenantCreateSubscription"),
        ("/tenants/{tenantId}/incidentSubscriptions", "post", "TenantCreateIncidentSubscription"),
    ]
    trigger = triggers[0][2]
    assert trigger["x-ms-trigger"] == "single"
    created = trigger["responses"]["201"]
    assert "Location" in created["headers"]
    assert created["schema"] == {"$ref": "#/definitions/Subscription"}
    # Power Automate unsubscribes by DELETE on the Location.
    assert "delete" in document["paths"]["/subscriptions/{id}"]

    marked = [where for where, node in walk(document) if node.get("x-ms-notification-url")]
    assert sorted(marked) == [
        "#/definitions/IncidentSubscriptionRequest/properties/notificationUrl",
        "#/definitions/SubscriptionRequest/properties/notificationUrl",
    ]
    body = document["definitions"]["SubscriptionRequest"]
    url = body["properties"]["notificationUrl"]
    assert url["x-ms-notification-url"] is True
    assert url["x-ms-visibility"] == "internal"
    assert "notificationUrl" in body["required"]
    (parameter,) = trigger["parameters"]
    assert parameter["in"] == "body" and parameter["required"] is True
    assert parameter["schema"] == {"$ref": "#/definitions/SubscriptionRequest"}


def test_the_incident_trigger_posts_each_notice_as_the_incident_event(
    document: dict[str, Any],
) -> None:
    path = document["paths"]["/incidentSubscriptions"]
    assert path["x-ms-notification-content"]["schema"] == {"$ref": "#/definitions/IncidentEvent"}
    trigger = path["post"]
    assert (trigger["summary"], trigger["x-ms-trigger"]) == (
        "When an incident opens or resolves", "single",
    )  # fmt: skip
    assert trigger["responses"]["201"]["schema"] == {"$ref": "#/definitions/Subscription"}
    (parameter,) = trigger["parameters"]
    assert parameter["schema"] == {"$ref": "#/definitions/IncidentSubscriptionRequest"}
    event = document["definitions"]["IncidentEvent"]["properties"]
    assert {"event", "incident", "eventId", "tenantId"} <= set(event)
    assert event["incident"] == {"$ref": "#/definitions/Incident"}
    body = document["definitions"]["IncidentSubscriptionRequest"]["properties"]
    incident_filter = body["filter"]["properties"]  # a nullable reference is inlined
    assert incident_filter["notices"]["items"]["enum"] == ["opened", "reminder", "resolved"]
    assert incident_filter["sources"]["items"]["enum"] == list(SOURCE_NAMES)


def test_the_trigger_outputs_are_the_change_event(document: dict[str, Any]) -> None:
    content = document["paths"]["/subscriptions"]["x-ms-notification-content"]
    assert content["schema"] == {"$ref": "#/definitions/ChangeEvent"}
    event = document["definitions"]["ChangeEvent"]
    aliases = {field.alias or name for name, field in ChangeEvent.model_fields.items()}
    assert set(event["properties"]) == aliases
    sample = ChangeEvent(
        eventId="e1",
        subscriptionId="s1",
        source="synchronizationJobs",
        id="sp:job",
        displayName="scim",
        previousStatus="Active",
        status="Quarantine",
        previousHealth="healthy",
        health="error",
        changedDateTime="2026-11-22T06:05:00.0213450Z",
        reason="Quarantined.",
        path="/api/servicePrincipals/sp/synchronization/jobs/job",
    )
    validator(document, "ChangeEvent").validate(sample.model_dump())


# -- request bodies agree with the models that validate them -----------------------------------


def model_accepts(parse: Any, body: Any) -> bool:
    try:
        parse(body)
    except InvalidInputError:
        return False
    return True


PATCH_SAMPLES = [
    {},
    {"status": "paused"},
    {"status": "unknownFutureValue", "statusMessage": None},
    {"statusMessage": "Paused for the term break\r\n"},
    {"errorCount": 0},
    {"errorCount": 2**63 - 1},
    {"lastActivityDateTime": "2021-07-13T20:55:17.6475128Z"},
    {"lastSynchronizationDateTime": "2021-07-13T20:55+02:00", "lastActivityDateTime": None},
    {"@odata.type": "#microsoft.graph.educationSynchronizationProfileStatus"},
    {"id": SEED_ID},
    # refused
    {"displayName": "not writable"},
    {"status": "broken"},
    {"status": "Paused"},
    {"status": None},
    {"status": 1},
    {"errorCount": None},
    {"errorCount": -1},
    {"errorCount": 1.5},
    {"errorCount": "3"},
    {"errorCount": True},
    {"errorCount": 2**63},
    {"statusMessage": 5},
    {"id": None},
    {"@odata.type": None},
    {"@odata.type": "#microsoft.graph.educationSynchronizationProfile"},
    {"lastActivityDateTime": "yesterday"},
    {"lastActivityDateTime": "2021-07-13T20:55:17"},
    {"lastActivityDateTime": "2021-07-13T20:55:17.12345678Z"},
    {"lastActivityDateTime": 1626209717},
    [],
    "status",
    None,
]


@pytest.mark.parametrize("body", PATCH_SAMPLES, ids=lambda body: json.dumps(body)[:60])
def test_patch_body_schema_agrees_with_the_model(document: dict[str, Any], body: Any) -> None:
    schema_accepts = validator(document, "ProfileStatusPatch").is_valid(body)
    accepted = model_accepts(lambda b: parse_profile_status_patch(b, SEED_ID), body)
    assert schema_accepts == accepted


def test_patch_body_schema_lists_the_models_properties(document: dict[str, Any]) -> None:
    schema = document["definitions"]["ProfileStatusPatch"]
    aliases = {field.alias or name for name, field in ProfileStatusPatch.model_fields.items()}
    assert set(schema["properties"]) == aliases
    assert schema["additionalProperties"] is False
    patch = document["paths"]["/education/synchronizationProfiles/{id}/profileStatus"]["patch"]
    body = next(p for p in patch["parameters"] if p["in"] == "body")
    assert body["schema"] == {"$ref": "#/definitions/ProfileStatusPatch"}


SUBSCRIBE_SAMPLES = [
    {"notificationUrl": "https://prod.example.com/flow?sig=1"},
    {"notificationUrl": "https://x", "filter": None},
    {"notificationUrl": "https://x", "filter": {}},
    {"notificationUrl": "https://x", "filter": {"health": ["error", "warning"], "ids": None}},
    {"notificationUrl": "https://x", "filter": {"sources": ["synchronizationJobs"]}},
    {"notificationUrl": "https://x", "filter": {"ids": ["a", "b"]}},
    # refused
    {},
    {"notificationUrl": ""},
    {"notificationUrl": None},
    {"notificationUrl": "https://x" + "y" * 2048},
    {"notificationUrl": "https://x", "extra": 1},
    {"notificationUrl": "https://x", "filter": {"health": ["broken"]}},
    {"notificationUrl": "https://x", "filter": {"health": ["error"] * 5}},
    {"notificationUrl": "https://x", "filter": {"ids": [""]}},
    {"notificationUrl": "https://x", "filter": {"other": []}},
    {"notificationUrl": "https://x", "filter": "error"},
    [],
]


@pytest.mark.parametrize("body", SUBSCRIBE_SAMPLES, ids=lambda body: json.dumps(body)[:60])
def test_subscribe_body_schema_agrees_with_the_model(document: dict[str, Any], body: Any) -> None:
    schema_accepts = validator(document, "SubscriptionRequest").is_valid(body)
    assert schema_accepts == model_accepts(parse_subscription_request, body)


def test_subscribe_body_schema_lists_the_models_properties(document: dict[str, Any]) -> None:
    schema = document["definitions"]["SubscriptionRequest"]
    assert set(schema["properties"]) == set(SubscriptionRequest.model_fields)


TENANT_ID = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
TENANT_SAMPLES = [
    {"tenantId": TENANT_ID, "displayName": "Trust"},
    {"tenantId": TENANT_ID, "displayName": "T" * 256, "enabled": False, "sources": {}},
    {"tenantId": TENANT_ID, "displayName": "Trust", "sources": {"any": {"enabled": None}}},
    {"tenantId": TENANT_ID, "displayName": "Trust", "sources": {"any": {"options": {"A": "1"}}}},
    # refused (the sources' names and options are checked by the registry, past the schema)
    {},
    {"tenantId": TENANT_ID},
    {"tenantId": TENANT_ID, "displayName": ""},
    {"tenantId": TENANT_ID, "displayName": "T" * 257},
    {"tenantId": TENANT_ID, "displayName": None},
    {"tenantId": TENANT_ID, "displayName": "Trust", "enabled": "true"},
    {"tenantId": TENANT_ID, "displayName": "Trust", "enabled": None},
    {"tenantId": 5, "displayName": "Trust"},
    {"tenantId": TENANT_ID, "displayName": "Trust", "home": True},
    {"tenantId": TENANT_ID, "displayName": "Trust", "sources": None},
    {"tenantId": TENANT_ID, "displayName": "Trust", "sources": {"any": {"other": 1}}},
    {"tenantId": TENANT_ID, "displayName": "Trust", "sources": {"any": {"options": {"A": 1}}}},
    {"tenantId": TENANT_ID, "displayName": "T", "sources": {str(n): {} for n in range(21)}},
    [],
    None,
]
TENANT_CHANGE_SAMPLES = [
    {},
    {"displayName": "Renamed"},
    {"enabled": False, "sources": None},
    {"sources": {"any": {"enabled": True, "options": {}}}},
    # refused
    {"displayName": ""},
    {"enabled": 1},
    {"tenantId": TENANT_ID},
    {"sources": {"any": {"options": {"A": None}}}},
    {"sources": []},
    "enabled",
    {"displayName": None},
    {"enabled": None},
]


@pytest.mark.parametrize("body", TENANT_SAMPLES, ids=lambda body: json.dumps(body)[:60])
def test_tenant_body_schema_agrees_with_the_model(document: dict[str, Any], body: Any) -> None:
    schema_accepts = validator(document, "TenantRequest").is_valid(body)
    assert schema_accepts == model_accepts(lambda b: parse_model(TenantRequest, b), body)


@pytest.mark.parametrize("body", TENANT_CHANGE_SAMPLES, ids=lambda body: json.dumps(body)[:60])
def test_tenant_change_schema_agrees_with_the_model(document: dict[str, Any], body: Any) -> None:
    schema_accepts = validator(document, "TenantChange").is_valid(body)
    assert schema_accepts == model_accepts(lambda b: parse_model(TenantChange, b), body)


def test_tenant_body_schemas_list_the_models_properties(document: dict[str, Any]) -> None:
    for model in (TenantRequest, TenantChange):
        schema = document["definitions"][model.__name__]
        assert set(schema["properties"]) == set(model.model_fields)
        assert schema["additionalProperties"] is False


def test_tenant_routes_are_advanced_and_say_which_key(document: dict[str, Any]) -> None:
    registry = ("/tenants", "/tenants/{tenantId}", "/tenants/{tenantId}/consent")
    tenants = [(p, m, o) for p, m, o in operations(document) if p in registry]
    assert len(tenants) == 6
    for path, method, operation in tenants:
        assert operation["x-ms-visibility"] == "advanced", (path, method)
        assert "master key" in operation["responses"]["401"]["description"], (path, method)
        assert operation["responses"]["403"]["schema"] == {"$ref": "#/definitions/Error"}
    created = document["paths"]["/tenants"]["post"]["responses"]["201"]
    assert "Location" in created["headers"]
    assert created["schema"] == {"$ref": "#/definitions/Tenant"}
    assert "ETag" in document["paths"]["/tenants/{tenantId}"]["get"]["responses"]["200"]["headers"]


# -- responses accept what Graph sends ------------------------------------------------------------


def test_profile_status_schema_accepts_graphs_example(document: dict[str, Any]) -> None:
    context = "https://graph.microsoft.com/beta/$metadata#education/synchronizationProfiles"
    body = {"@odata.context": context, **SEED, "futureProperty": {"x": 1}}
    validator(document, "ProfileStatus").validate(body)
    body["errorCount"] = 2**63 - 1
    body["statusMessage"] = None
    validator(document, "ProfileStatus").validate(body)


def test_job_schemas_accept_the_simulated_tenants_jobs(document: dict[str, Any]) -> None:
    context = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#x"}
    statuses = [
        SYNC_STATUS_EXAMPLE,
        graph_tenant.healthy_job_status(),
        graph_tenant.quarantined_job_status(),
    ]
    jobs = [
        graph_tenant.job_resource(f"scim.{index}", "scim", dict(status))
        for index, status in enumerate(statuses)
    ]
    jobs.append({"id": "bare"})
    validator(document, "SynchronizationJobList").validate({**context, "value": jobs})
    for job in jobs:
        validator(document, "SynchronizationJobWithContext").validate({**context, **job})


def test_run_schemas_accept_the_simulated_tenants_runs(document: dict[str, Any]) -> None:
    context = {"@odata.context": "https://graph.microsoft.com/beta/$metadata#x"}
    runs = [
        graph_tenant.run_resource("r1", "Run", "running", "2026-11-22T05:00:00Z", None, None),
        graph_tenant.run_resource(
            "r2",
            "Run",
            "failed",
            "2026-11-22T05:00:00Z",
            "2026-11-22T05:10:00Z",
            graph_tenant.blocking_error(),
        ),
    ]
    validator(document, "IndustryDataRunList").validate({**context, "value": runs})
    validator(document, "IndustryDataRunWithContext").validate({**context, **runs[1]})
    for statistics in (
        graph_tenant.run_statistics(3, 1, run_id="r2"),
        graph_tenant.run_statistics(run_id="r3", status="running"),
        graph_tenant.empty_run_statistics("r4", "running"),
    ):
        validator(document, "IndustryDataRunStatistics").validate({**context, **statistics})


def test_health_schema_accepts_each_verdict(document: dict[str, Any]) -> None:
    checked = "2026-11-22T05:40:00.1234567Z"
    last_poll = {
        "outcome": "unavailable",
        "startedDateTime": checked,
        "finishedDateTime": None,
        "counts": {"listed": 0, "failed": 0},
        "errors": [{"code": "timeout", "count": 1}],
        "sourceError": {"status": 403, "code": "Forbidden", "message": "No."},
    }
    bodies = [
        {"status": "unhealthy", "checkedDateTime": checked, "storage": "unavailable"},
        {
            "status": "degraded",
            "checkedDateTime": checked,
            "storage": "available",
            "sources": [
                {
                    "source": "educationSynchronizationProfiles",
                    "status": "unavailable",
                    "lastPoll": last_poll,
                },
                {"source": "industryDataRuns", "status": "notPolledYet"},
            ],
        },
    ]
    for body in bodies:
        validator(document, "HealthReport").validate(body)
