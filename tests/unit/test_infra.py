"""Offline checks of the deployment (infra/, azure.yaml): no Azure, no az, no network.

The Bicep files are parsed with pycep (the parser checkov uses) and the assertions run on the
parsed trees. pycep renders a Bicep expression as nested dicts, a string literal and a bare
identifier both as plain strings, and an interpolated string verbatim ('x-${y}').
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))
GRANT_SCRIPT = INFRA / "scripts" / "grant-graph-permissions.sh"

# Built-in role definition ids (Azure RBAC built-in roles reference).
STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
STORAGE_QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
STORAGE_TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"

# API versions the templates may use: documented versions that know the properties used here
# (functionAppConfig needs Microsoft.Web 2023-12-01 or later).
API_VERSIONS = {
    "Microsoft.Resources/resourceGroups": "2024-03-01",
    "Microsoft.ManagedIdentity/userAssignedIdentities": "2023-01-31",
    "Microsoft.Storage/storageAccounts": "2023-05-01",
    "Microsoft.Storage/storageAccounts/blobServices": "2023-05-01",
    "Microsoft.Storage/storageAccounts/blobServices/containers": "2023-05-01",
    "Microsoft.OperationalInsights/workspaces": "2023-09-01",
    "Microsoft.Insights/components": "2020-02-02",
    "Microsoft.Authorization/roleAssignments": "2022-04-01",
    "Microsoft.Web/serverfarms": "2024-04-01",
    "Microsoft.Web/sites": "2024-04-01",
    "Microsoft.Web/sites/basicPublishingCredentialsPolicies": "2024-04-01",
    "Microsoft.Web/sites/config": "2024-04-01",
}


# The settings the app reads, taken from the settings modules themselves (the app's and each
# registered source's) so that a new setting without a deployment parameter fails here: the
# first string argument of env.get(...) and of the flag/number/text/choice/object_ids/_queue_name(env, ...)
# helpers, and `name = "..."` or `..._SETTING = "..."` assignments.
def settings_modules() -> list[Path]:
    from shared.sources import SOURCES

    folders = {Path(inspect.getfile(type(source))).parent for source in SOURCES}
    return [ROOT / "shared" / "settings.py", *sorted(folder / "settings.py" for folder in folders)]


_SETTING_NAME = re.compile(
    r'(?:\benv\.get\(|\b(?:flag|number|text|choice|object_ids|_queue_name)\(\s*env\s*,)\s*"(\w+)"'
    r'|\b(?:name|[A-Z_]*SETTING)\s*=\s*"(\w+)"'
)


def settings_read_by_app() -> set[str]:
    return {
        first or second
        for module in settings_modules()
        for first, second in _SETTING_NAME.findall(module.read_text())
    }


# AzureWebJobsStorage*: identity-based host storage, asserted in test_host_storage_is_identity_based.
# The rest each have a main.bicep parameter, an api.bicep app setting and an azd variable.
APP_SETTINGS = sorted(
    name for name in settings_read_by_app() if not name.startswith("AzureWebJobsStorage")
)
# Read by the app but never deployed: setting -> why.
NOT_DEPLOYED = {
    "ALLOW_INSECURE_WEBHOOKS": "lets webhooks reach http and private addresses: local runs only",
}
# Read by the app but set by the platform itself, never by the deployment: setting -> by whom.
# The deployment must not set these: WEBSITE_AUTH_ENABLED is the app's proof that App Service
# Authentication stands in front of it (only then does it trust X-MS-CLIENT-PRINCIPAL), so an
# app setting claiming it would let any caller forge a sign-in.
SET_BY_PLATFORM = {
    "WEBSITE_AUTH_ENABLED": "App Service, while App Service Authentication is on (app/signin.bicep)",
    "WEBSITE_HOSTNAME": "App Service: the app's default host name (the links' origin)",
}
# Deployed, but computed from another main.bicep parameter instead of having one of its own:
# setting -> (that parameter, the setting's value when it is empty, when it is set).
DERIVED_SETTINGS = {
    # On exactly when an app registration is given, which is also what deploys App Service
    # Authentication (app/signin.bicep), so the two cannot disagree.
    "BOARD_SIGN_IN_ENABLED": ("boardSignInClientId", "false", "true"),
}
# Deployed from what the deployment itself makes, with no parameter: setting -> from what.
SET_BY_INFRA = {
    "AZURE_CLIENT_ID": "the user-assigned identity's client id (app/identity.bicep)",
    "HOME_TENANT_ID": "the deployment's own tenant (tenant().tenantId)",
    "POLL_QUEUE_NAME": "the table prefix, lower-cased, with -polls (the queue trigger names it)",
    "DELIVERY_QUEUE_NAME": "the table prefix, lower-cased, with -deliveries (likewise)",
}
DEPLOYED_SETTINGS = [
    name
    for name in APP_SETTINGS
    if name not in NOT_DEPLOYED
    and name not in SET_BY_PLATFORM
    and name not in DERIVED_SETTINGS
    and name not in SET_BY_INFRA
]
# App settings the deployment adds for the platform, not read by shared/settings.py.
PLATFORM_SETTINGS = {
    "AzureFunctionsWebHost__hostid",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "AZURE_CLIENT_ID",
    # App Service Authentication reads the sign-in client secret from it (only when one is given).
    "MICROSOFT_PROVIDER_AUTHENTICATION_SECRET",
}
# Deployment settings Graph permissions depend on: the grant script reads these azd variables.
SOURCE_SWITCHES = {
    "SDS_PROFILES_ENABLED",
    "PROVISIONING_JOBS_ENABLED",
    "PROVISIONING_SERVICE_PRINCIPAL_IDS",
    "PROVISIONING_LOGS_ENABLED",
    "PROVISIONING_ACTIONS_ENABLED",
    "DIRECTORY_SYNC_ENABLED",
    "INDUSTRY_DATA_RUNS_ENABLED",
}


def parameter_name(setting: str) -> str:
    """The main.bicep parameter (and api.bicep parameter) of a setting: GRAPH_BASE_URL ->
    graphBaseUrl. The azd variable in main.parameters.json is the setting's own name."""
    first, *rest = setting.lower().split("_")
    return first + "".join(word.capitalize() for word in rest)


def azd_variable(parameter: str) -> str:
    """The azd variable of a parameter that is not an app setting: boardSignInClientId ->
    BOARD_SIGN_IN_CLIENT_ID."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", parameter).upper()


GUID = "11111111-2222-3333-4444-555555555555"
GRAPH_SP_ID = "99999999-0000-0000-0000-000000000001"
GRAPH_ROLE_IDS = {
    "EduAdministration.Read.All": "aaaaaaaa-0000-0000-0000-000000000001",
    "Synchronization.Read.All": "aaaaaaaa-0000-0000-0000-000000000002",
    "IndustryData-Run.Read.All": "aaaaaaaa-0000-0000-0000-000000000003",
    "User.Read.All": "aaaaaaaa-0000-0000-0000-000000000004",
    "Application.Read.All": "aaaaaaaa-0000-0000-0000-000000000005",
    "AuditLog.Read.All": "aaaaaaaa-0000-0000-0000-000000000006",
    "Organization.Read.All": "aaaaaaaa-0000-0000-0000-000000000007",
    "Synchronization.ReadWrite.All": "aaaaaaaa-0000-0000-0000-000000000008",
}
# Every role the grant script can assign, in its order (the registry's: SDS, provisioning jobs
# with discovery, the logs and the job actions, directory synchronization, Industry Data).
ALL_ROLES = [
    "EduAdministration.Read.All",
    "Synchronization.Read.All",
    "Application.Read.All",
    "AuditLog.Read.All",
    "Synchronization.ReadWrite.All",
    "Organization.Read.All",
    "IndustryData-Run.Read.All",
]
# The app's defaults: SDS, provisioning jobs found by discovery, and directory synchronization.
DEFAULT_ROLES = [
    "EduAdministration.Read.All",
    "Synchronization.Read.All",
    "Application.Read.All",
    "Organization.Read.All",
]


# --- parsed-tree helpers ----------------------------------------------------------------------


@functools.cache
def parsed(relative: str) -> dict[str, Any]:
    return BicepParser().parse(file_path=INFRA / relative)


def walk(node: Any) -> Iterator[Any]:
    """Every node of a parsed tree: dicts, lists, their keys and scalar leaves."""
    yield node
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def strings(node: Any) -> Iterator[str]:
    return (item for item in walk(node) if isinstance(item, str))


def resources_of(tree: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Symbolic name -> config of the declared (not `existing`) resources of one type."""
    return {
        name: resource["config"]
        for name, resource in tree.get("resources", {}).items()
        if resource["type"] == resource_type and not resource["existing"]
    }


def only(mapping: dict[str, Any]) -> Any:
    assert len(mapping) == 1, f"expected exactly one, found {sorted(mapping)}"
    return next(iter(mapping.values()))


def accessor(node: Any) -> str:
    """`a.b.c` (pycep's nested property_accessor) back to dotted text."""
    if isinstance(node, str):
        return node
    assert isinstance(node, dict), node
    operator = node["operator"]
    assert operator["type"] == "property_accessor", node
    operands = operator["operands"]
    return f"{accessor(operands['operand_1'])}.{accessor(operands['operand_2'])}"


def function(node: Any, name: str) -> dict[str, Any]:
    """The parameters of a call to the Bicep function `name` (pycep snake_cases the name)."""
    assert isinstance(node, dict) and "function" in node, node
    assert node["function"]["type"] == name, node
    return node["function"]["parameters"]


def param_default(tree: dict[str, Any], name: str) -> Any:
    return tree["parameters"][name]["default"]


def decorators(tree: dict[str, Any], section: str, name: str) -> dict[str, Any]:
    return {d["type"]: d.get("argument") for d in tree[section][name]["decorators"]}


def function_app() -> dict[str, Any]:
    return only(resources_of(parsed("app/api.bicep"), "Microsoft.Web/sites"))


def app_settings_parts() -> tuple[list[dict[str, Any]], list[tuple[Any, list[dict[str, Any]]]]]:
    """siteConfig.appSettings, a list or `concat([...], condition ? [...] : [])`: the entries
    always set, and (condition, entries) for each part set only under a condition."""
    value = function_app()["properties"]["siteConfig"]["appSettings"]
    if isinstance(value, list):
        return value, []
    always, *parts = function(value, "concat").values()
    assert isinstance(always, list), always
    conditional = []
    for part in parts:
        assert part["operator"]["type"] == "conditional", part
        operands = part["operator"]["operands"]
        assert operands["false_value"] == [], part
        conditional.append((operands["condition"], operands["true_value"]))
    return always, conditional


def setting_name(entry: dict[str, Any]) -> str:
    """An app setting's name: a literal, or an api.bicep variable holding one."""
    variables = parsed("app/api.bicep")["variables"]
    name = entry["name"]
    return variables[name]["value"] if name in variables else name


def app_settings() -> dict[str, Any]:
    """Every app setting the template can set (conditional ones too): name -> value."""
    always, conditional = app_settings_parts()
    entries = always + [entry for _, part in conditional for entry in part]
    names = [setting_name(entry) for entry in entries]
    assert len(names) == len(set(names)), f"duplicate app settings: {names}"
    return {setting_name(entry): entry["value"] for entry in entries}


def derived_value(setting: str, parameter_value: str) -> str:
    """The value api.bicep gives a derived setting, `empty(<parameter>) ? A : B`, for one value
    of the parameter."""
    parameter, when_empty, when_set = DERIVED_SETTINGS[setting]
    expression = app_settings()[setting]
    assert expression["operator"]["type"] == "conditional", expression
    operands = expression["operator"]["operands"]
    assert function(operands["condition"], "empty") == {"item_to_test": parameter}
    assert (operands["true_value"], operands["false_value"]) == (when_empty, when_set)
    return operands["true_value"] if parameter_value == "" else operands["false_value"]


def main_module_params(module: str) -> dict[str, Any]:
    return parsed("main.bicep")["modules"][module]["config"]["params"]


# --- the Bicep --------------------------------------------------------------------------------


def test_infra_has_main_and_modules() -> None:
    names = {path.relative_to(INFRA).as_posix() for path in BICEP_FILES}
    assert {"main.bicep", "app/api.bicep", "app/rbac.bicep", "app/storage.bicep"} <= names
    modules = parsed("main.bicep")["modules"]
    for module in modules.values():
        # Local files only: no registry (br:) or template-spec (ts:) modules to fetch.
        assert module["type"] == "local", module
        assert (INFRA / module["detail"]["path"]).is_file(), module
    used = {module["detail"]["path"] for module in modules.values()}
    assert used == {name for name in names if name.startswith("app/")}


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_bicep_file_parses(path: Path) -> None:
    tree = parsed(path.relative_to(INFRA).as_posix())
    assert tree["resources"] or tree.get("modules"), "declares nothing"
    # pycep skips '#' lines but Bicep rejects them: suppressions must be '// checkov:skip=...'.
    for number, line in enumerate(path.read_text().splitlines(), 1):
        assert not line.lstrip().startswith("#"), (
            f"{path.name}:{number}: '#' is not a Bicep comment"
        )


def test_resource_api_versions_are_the_documented_ones() -> None:
    for path in BICEP_FILES:
        for name, resource in parsed(path.relative_to(INFRA).as_posix())["resources"].items():
            assert resource["type"] in API_VERSIONS, f"{path.name}: {name} {resource['type']}"
            assert resource["api_version"] == API_VERSIONS[resource["type"]], (path.name, name)


def test_plan_is_flex_consumption_on_linux() -> None:
    plan = only(resources_of(parsed("app/api.bicep"), "Microsoft.Web/serverfarms"))
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan["properties"]["reserved"] is True
    assert accessor(function_app()["properties"]["serverFarmId"]) == "plan.id"


def test_function_app_runs_python_311_from_function_app_config() -> None:
    app = function_app()
    assert app["kind"] == "functionapp,linux"
    config = app["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    scale = config["scaleAndConcurrency"]
    assert scale["instanceMemoryMB"] == "instanceMemoryMB"
    assert decorators(parsed("app/api.bicep"), "parameters", "instanceMemoryMB")["allowed"] == [
        512,
        2048,
        4096,
    ]
    assert param_default(parsed("main.bicep"), "instanceMemoryMB") == 2048
    # Flex Consumption rejects the classic runtime settings (no linuxFxVersion either).
    assert "linuxFxVersion" not in app["properties"]["siteConfig"]


def test_deployment_package_container_uses_the_identity() -> None:
    storage = function_app()["properties"]["functionAppConfig"]["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert (
        storage["value"] == "${storage.properties.primaryEndpoints.blob}${deploymentContainerName}"
    )
    assert storage["authentication"]["type"] == "UserAssignedIdentity"
    assert accessor(storage["authentication"]["userAssignedIdentityResourceId"]) == "identity.id"
    assert "storageAccountConnectionStringName" not in storage["authentication"]

    container = only(
        resources_of(
            parsed("app/storage.bicep"), "Microsoft.Storage/storageAccounts/blobServices/containers"
        )
    )
    assert container["name"] == "deploymentContainerName"
    assert container["properties"]["publicAccess"] == "None"
    # main.bicep hands the container the storage module created to the app module.
    assert main_module_params("storage")["deploymentContainerName"] == "deploymentContainerName"
    assert (
        accessor(main_module_params("api")["deploymentContainerName"])
        == "storage.outputs.deploymentContainerName"
    )


def test_app_runs_as_the_user_assigned_identity() -> None:
    identity = only(
        resources_of(
            parsed("app/identity.bicep"), "Microsoft.ManagedIdentity/userAssignedIdentities"
        )
    )
    assert identity["name"] == "name"
    outputs = parsed("app/identity.bicep")["outputs"]
    assert accessor(outputs["clientId"]["value"]) == "identity.properties.clientId"
    assert accessor(outputs["principalId"]["value"]) == "identity.properties.principalId"

    app_identity = function_app()["identity"]
    assert app_identity["type"] == "UserAssigned"
    assert list(app_identity["userAssignedIdentities"]) == ["'${identity.id}'"]
    assert accessor(main_module_params("api")["identityName"]) == "identity.outputs.name"


def test_host_storage_is_identity_based() -> None:
    settings = app_settings()
    for service in ("blob", "queue", "table"):
        value = settings[f"AzureWebJobsStorage__{service}ServiceUri"]
        assert accessor(value) == f"storage.properties.primaryEndpoints.{service}"
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert accessor(settings["AzureWebJobsStorage__clientId"]) == "identity.properties.clientId"
    # No connection-string form of the setting at all.
    assert "AzureWebJobsStorage" not in settings
    assert not any(name.startswith("AzureWebJobsStorage__accountKey") for name in settings)


def test_no_account_keys_or_connection_strings_anywhere() -> None:
    for path in BICEP_FILES:
        for text in strings(parsed(path.relative_to(INFRA).as_posix())):
            assert "AccountKey" not in text, f"{path.name}: {text}"
            assert "SharedAccessSignature" not in text, f"{path.name}: {text}"
            # listKeys()/listAccountSas()/... as a call, an accessor or inside '${...}'.
            assert not re.search(r"\blist\w*(keys|sas)\b", text, re.IGNORECASE), (
                f"{path.name}: {text}"
            )


def test_storage_account_accepts_entra_id_only() -> None:
    account = only(resources_of(parsed("app/storage.bicep"), "Microsoft.Storage/storageAccounts"))
    properties = account["properties"]
    assert properties["allowSharedKeyAccess"] is False
    assert properties["allowBlobPublicAccess"] is False
    assert properties["defaultToOAuthAuthentication"] is True
    assert properties["minimumTlsVersion"] == "TLS1_2"
    assert properties["supportsHttpsTrafficOnly"] is True
    assert properties["isLocalUserEnabled"] is False


def test_role_assignments_are_the_four_roles_on_their_resources() -> None:
    rbac = parsed("app/rbac.bicep")
    variables = {name: var["value"] for name, var in rbac["variables"].items()}
    existing = {name: res["type"] for name, res in rbac["resources"].items() if res["existing"]}
    granted: set[tuple[str, str]] = set()
    for name, assignment in resources_of(rbac, "Microsoft.Authorization/roleAssignments").items():
        properties = assignment["properties"]
        role = function(properties["roleDefinitionId"], "subscription_resource_id")
        assert role["resource_type"] == "Microsoft.Authorization/roleDefinitions", name
        role_id = variables[role["resource_name_1"]]
        assert properties["principalId"] == "principalId", name
        assert properties["principalType"] == "ServicePrincipal", name
        # Scoped to one resource, never the resource group or subscription.
        scope = assignment["scope"]
        assert scope in existing, name
        granted.add((existing[scope], role_id))
        # Deterministic name: guid(scope, principal, role) keeps redeploys idempotent.
        guid_args = list(function(assignment["name"], "guid").values())
        assert accessor(guid_args[0]) == f"{scope}.id"
        assert guid_args[1:] == ["principalId", role["resource_name_1"]], name
    assert granted == {
        ("Microsoft.Storage/storageAccounts", STORAGE_BLOB_DATA_OWNER),
        ("Microsoft.Storage/storageAccounts", STORAGE_QUEUE_DATA_CONTRIBUTOR),
        ("Microsoft.Storage/storageAccounts", STORAGE_TABLE_DATA_CONTRIBUTOR),
        ("Microsoft.Insights/components", MONITORING_METRICS_PUBLISHER),
    }
    # ... granted to the app's identity, and before the app starts.
    assert accessor(main_module_params("rbac")["principalId"]) == "identity.outputs.principalId"
    assert parsed("main.bicep")["modules"]["api"]["config"]["dependsOn"] == ["rbac"]
    # No other file assigns roles.
    for path in BICEP_FILES:
        if path.name != "rbac.bicep":
            tree = parsed(path.relative_to(INFRA).as_posix())
            assert not resources_of(tree, "Microsoft.Authorization/roleAssignments"), path.name


def test_application_insights_uses_entra_authentication() -> None:
    monitoring = parsed("app/monitoring.bicep")
    component = only(resources_of(monitoring, "Microsoft.Insights/components"))
    assert component["properties"]["DisableLocalAuth"] is True
    assert accessor(component["properties"]["WorkspaceResourceId"]) == "logAnalytics.id"
    assert only(resources_of(monitoring, "Microsoft.OperationalInsights/workspaces"))
    settings = app_settings()
    assert (
        settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]
        == "ClientId=${identity.properties.clientId};Authorization=AAD"
    )
    assert (
        accessor(settings["APPLICATIONINSIGHTS_CONNECTION_STRING"])
        == "applicationInsights.properties.ConnectionString"
    )


def test_https_only_tls_12_no_ftp_no_basic_auth() -> None:
    app = function_app()
    assert app["properties"]["httpsOnly"] is True
    site_config = app["properties"]["siteConfig"]
    assert site_config["minTlsVersion"] == "1.2"
    assert site_config["scmMinTlsVersion"] == "1.2"
    assert site_config["ftpsState"] == "Disabled"
    policies = resources_of(
        parsed("app/api.bicep"), "Microsoft.Web/sites/basicPublishingCredentialsPolicies"
    )
    assert {policy["name"]: policy["properties"]["allow"] for policy in policies.values()} == {
        "ftp": False,
        "scm": False,
    }


FLEX_REJECTED_SETTINGS = (
    "FUNCTIONS_WORKER_RUNTIME",
    "WEBSITE_RUN_FROM_PACKAGE",
    # Azure Files content share of the classic Consumption plan; Flex has none.
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTSHARE",
)


def test_no_settings_that_flex_consumption_rejects() -> None:
    for setting in FLEX_REJECTED_SETTINGS:
        assert setting not in app_settings()
        for path in BICEP_FILES:
            for text in strings(parsed(path.relative_to(INFRA).as_posix())):
                assert setting not in text, path.name


def test_app_settings_are_derived_from_the_app() -> None:
    derived = set(APP_SETTINGS)
    # The regex finds each way settings.py reads a setting (so this cannot pass empty).
    assert {
        "POLL_SCHEDULE",  # _text
        "GRAPH_AUTH",  # _choice
        "INDUSTRY_DATA_RUNS_KEPT",  # _number
        "SDS_PROFILES_ENABLED",  # _flag
        "NOTIFY_WEBHOOK_URLS",  # env.get
        "PROVISIONING_SERVICE_PRINCIPAL_IDS",  # name = "..."
        "BOARD_ALLOWED_GROUP_ID",  # _object_ids
    } <= derived
    assert derived >= SOURCE_SWITCHES
    assert {"AzureWebJobsStorage", "AzureWebJobsStorage__credential"} <= settings_read_by_app()
    assert set(NOT_DEPLOYED) <= derived, "stale NOT_DEPLOYED entry"
    assert set(SET_BY_PLATFORM) <= derived, "stale SET_BY_PLATFORM entry"
    assert set(DERIVED_SETTINGS) <= derived, "stale DERIVED_SETTINGS entry"


@pytest.mark.parametrize("setting", DEPLOYED_SETTINGS)
def test_app_setting_is_a_parameter_passed_to_the_app(setting: str) -> None:
    parameter = parameter_name(setting)
    main = parsed("main.bicep")
    assert parameter in main["parameters"], f"main.bicep has no parameter {parameter}"
    assert decorators(main, "parameters", parameter)["description"].startswith(setting)
    assert main_module_params("api")[parameter] == parameter
    api = parsed("app/api.bicep")
    assert parameter in api["parameters"], f"api.bicep has no parameter {parameter}"
    assert api["parameters"][parameter]["type"] == main["parameters"][parameter]["type"]
    assert setting in app_settings(), f"api.bicep sets no app setting {setting}"
    value = app_settings()[setting]
    if main["parameters"][parameter]["type"] == "int":
        assert function(value, "string")["value_to_convert"] == parameter
    else:
        assert value == parameter
    # azd: overridable per environment (`azd env set NAME value`), with the same default.
    default = param_default(main, parameter)
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    expected = f"${{{setting}={default}}}" if default != "" else f"${{{setting}}}"
    assert parameters[parameter]["value"] == expected


def test_parameter_defaults_are_the_apps_defaults() -> None:
    """Deploying every parameter's default configures the app exactly as leaving it unset."""
    from shared.sources import load_settings

    main = parsed("main.bicep")
    storage = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}
    deployed = {
        setting: str(param_default(main, parameter_name(setting))) for setting in DEPLOYED_SETTINGS
    }
    for setting, (parameter, _, _) in DERIVED_SETTINGS.items():
        deployed[setting] = derived_value(setting, str(param_default(main, parameter)))
    assert load_settings({**storage, **deployed}) == load_settings(storage)


@pytest.mark.parametrize("setting", sorted(DERIVED_SETTINGS))
def test_derived_setting_follows_its_parameter(setting: str) -> None:
    parameter, when_empty, when_set = DERIVED_SETTINGS[setting]
    # No parameter of its own (which could disagree with the one it follows) ...
    main = parsed("main.bicep")
    assert parameter_name(setting) not in main["parameters"]
    assert parameter_name(setting) not in parsed("app/api.bicep")["parameters"]
    # ... but one it follows, from main.bicep through api.bicep, overridable in azd.
    assert main["parameters"][parameter]["type"] == "string"
    assert decorators(main, "parameters", parameter)["description"].startswith(
        azd_variable(parameter)
    )
    assert main_module_params("api")[parameter] == parameter
    assert parsed("app/api.bicep")["parameters"][parameter]["type"] == "string"
    default = param_default(main, parameter)
    assert default == ""
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters[parameter]["value"] == f"${{{azd_variable(parameter)}}}"
    # Both values mean to the app what the template means: off without the parameter, on with it.
    from shared.core.env import flag

    assert derived_value(setting, "") == when_empty
    assert derived_value(setting, GUID) == when_set
    assert flag({setting: when_empty}, setting, default=True) is False
    assert flag({setting: when_set}, setting, default=False) is True


def test_boolean_parameters_allow_only_true_or_false() -> None:
    main = parsed("main.bicep")
    for setting in DEPLOYED_SETTINGS:
        parameter = parameter_name(setting)
        if not setting.endswith("_ENABLED"):
            continue
        assert main["parameters"][parameter]["type"] == "string", parameter
        allowed = decorators(main, "parameters", parameter)["allowed"]
        assert set(allowed) == {"true", "false"}, parameter
        assert param_default(main, parameter) in allowed, parameter


def test_webhook_urls_are_a_secure_parameter() -> None:
    # A flow's "When an HTTP request is received" URL carries its signature.
    for tree in (parsed("main.bicep"), parsed("app/api.bicep")):
        assert "secure" in decorators(tree, "parameters", "notifyWebhookUrls")


def test_sign_in_client_secret_is_secure_and_set_only_when_given() -> None:
    main, api = parsed("main.bicep"), parsed("app/api.bicep")
    for tree in (main, api):
        assert "secure" in decorators(tree, "parameters", "boardSignInClientSecret")
    assert param_default(main, "boardSignInClientSecret") == ""
    assert main_module_params("api")["boardSignInClientSecret"] == "boardSignInClientSecret"
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters["boardSignInClientSecret"]["value"] == "${BOARD_SIGN_IN_CLIENT_SECRET}"

    # The app setting exists only with a client id and a secret: the one conditional part.
    _, conditional = app_settings_parts()
    assert len(conditional) == 1
    condition, entries = conditional[0]
    assert condition == "signInSecretGiven"
    given = api["variables"]["signInSecretGiven"]["value"]["operator"]
    assert given["type"] == "not"
    either_empty = given["operands"]["bool_value"]["operator"]
    assert either_empty["type"] == "or"
    assert [function(operand, "empty") for operand in either_empty["operands"].values()] == [
        {"item_to_test": "boardSignInClientId"},
        {"item_to_test": "boardSignInClientSecret"},
    ]
    assert [(setting_name(entry), entry["value"]) for entry in entries] == [
        ("MICROSOFT_PROVIDER_AUTHENTICATION_SECRET", "boardSignInClientSecret")
    ]
    # App Service Authentication is pointed at that setting only when there is a secret.
    output = api["outputs"]["signInSecretSettingName"]["value"]
    assert api["variables"][output]["value"] == "MICROSOFT_PROVIDER_AUTHENTICATION_SECRET"
    secret_name = parsed("main.bicep")["modules"]["signIn"]["config"]["config"]["params"][
        "clientSecretSettingName"
    ]["operator"]
    assert secret_name["type"] == "conditional"
    operands = secret_name["operands"]
    assert function(operands["condition"], "empty") == {"item_to_test": "boardSignInClientSecret"}
    assert operands["true_value"] == ""
    assert accessor(operands["false_value"]) == "api.outputs.signInSecretSettingName"


def test_app_service_authentication_is_conditional_and_allows_anonymous() -> None:
    """App Service Authentication (authsettingsV2) exists only with an app registration's client
    id, and never requires a sign-in: the API keeps working with function keys (Power
    Automate) while the board asks for the sign-in itself."""
    module = parsed("main.bicep")["modules"]["signIn"]
    assert module["detail"]["path"] == "app/signin.bicep"
    condition = module["config"]["condition"]["operator"]
    assert condition["type"] == "not"
    assert function(condition["operands"]["bool_value"], "empty") == {
        "item_to_test": "boardSignInClientId"
    }
    params = module["config"]["config"]["params"]
    assert params["clientId"] == "boardSignInClientId"
    assert accessor(params["functionAppName"]) == "api.outputs.name"
    # ... the same condition that turns BOARD_SIGN_IN_ENABLED on.
    assert DERIVED_SETTINGS["BOARD_SIGN_IN_ENABLED"][0] == "boardSignInClientId"

    signin = parsed("app/signin.bicep")
    site = signin["resources"]["functionApp"]
    assert site["existing"] and site["config"]["name"] == "functionAppName"
    auth = only(resources_of(signin, "Microsoft.Web/sites/config"))
    assert auth["parent"] == "functionApp"
    assert auth["name"] == "authsettingsV2"
    properties = auth["properties"]
    assert properties["platform"] == {"enabled": True}
    assert properties["globalValidation"] == {
        "requireAuthentication": False,
        "unauthenticatedClientAction": "AllowAnonymous",
    }
    assert properties["httpSettings"]["requireHttps"] is True
    assert properties["login"]["tokenStore"]["enabled"] is False

    providers = properties["identityProviders"]
    assert list(providers) == ["azureActiveDirectory"]
    entra = providers["azureActiveDirectory"]
    assert entra["enabled"] is True
    registration = function(entra["registration"], "union")
    assert registration["arg_1"] == {
        "clientId": "clientId",
        # The tenant the app is deployed to, on the cloud it is deployed to.
        "openIdIssuer": "${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0",
    }
    # No secret in the template: at most the name of the app setting holding it.
    secret = registration["arg_2"]["operator"]
    assert secret["type"] == "conditional"
    assert function(secret["operands"]["condition"], "empty") == {
        "item_to_test": "clientSecretSettingName"
    }
    assert secret["operands"]["true_value"] == {}
    assert secret["operands"]["false_value"] == {
        "clientSecretSettingName": "clientSecretSettingName"
    }
    assert param_default(signin, "clientSecretSettingName") == ""
    assert "api://${clientId}" in entra["validation"]["allowedAudiences"]

    # Nothing else configures the site's authentication (no v1 authsettings either).
    for path in BICEP_FILES:
        if path.name != "signin.bicep":
            tree = parsed(path.relative_to(INFRA).as_posix())
            assert not resources_of(tree, "Microsoft.Web/sites/config"), path.name


@pytest.mark.parametrize("setting", sorted({**NOT_DEPLOYED, **SET_BY_PLATFORM}))
def test_local_only_or_platform_setting_is_not_deployed(setting: str) -> None:
    assert setting not in app_settings()
    assert parameter_name(setting) not in parsed("main.bicep")["parameters"]
    for path in BICEP_FILES:
        for text in strings(parsed(path.relative_to(INFRA).as_posix())):
            assert setting not in text, path.name


def test_every_app_setting_is_read_by_the_app_or_the_platform() -> None:
    unknown = {
        name
        for name in app_settings()
        if name not in APP_SETTINGS
        and name not in PLATFORM_SETTINGS
        and not name.startswith("AzureWebJobsStorage__")
    }
    assert not unknown, f"app settings nothing reads: {sorted(unknown)}"


def test_graph_auth_is_restricted_to_known_values() -> None:
    assert decorators(parsed("main.bicep"), "parameters", "graphAuth")["allowed"] == [
        "azure",
        "federated",
        "none",
    ]


def test_azure_client_id_selects_the_user_assigned_identity() -> None:
    assert accessor(app_settings()["AZURE_CLIENT_ID"]) == "identity.properties.clientId"


def test_host_id_is_set_and_fits_32_characters() -> None:
    assert app_settings()["AzureFunctionsWebHost__hostid"] == "hostId"
    assert decorators(parsed("app/api.bicep"), "parameters", "hostId")["max_length"] == 32
    main = parsed("main.bicep")
    assert decorators(main, "parameters", "hostId")["max_length"] == 32
    assert main_module_params("api")["hostId"] == "effectiveHostId"
    # Empty parameter: derived from the (unique) app name, cut to 32 characters.
    derived = main["variables"]["effectiveHostId"]["value"]["operator"]["operands"]
    assert function(derived["true_value"], "take") == {
        "original_value": "functionAppName",
        "number_to_take": 32,
    }


def test_azd_tags_and_outputs() -> None:
    main = parsed("main.bicep")
    assert main["globals"]["scope"]["value"] == "subscription"
    assert main["variables"]["tags"]["value"] == {"'azd-env-name'": "environmentName"}
    assert decorators(main, "parameters", "location")["metadata"] == {"azd": {"type": "location"}}
    tags = function(function_app()["tags"], "union")
    assert tags == {"arg_1": "tags", "arg_2": {"'azd-service-name'": "serviceName"}}
    assert main_module_params("api")["serviceName"] == "api"

    outputs = {name: output["value"] for name, output in main["outputs"].items()}
    assert accessor(outputs["AZURE_FUNCTION_APP_NAME"]) == "api.outputs.name"
    assert accessor(outputs["AZURE_FUNCTION_APP_URL"]) == "api.outputs.uri"
    assert accessor(outputs["API_IDENTITY_PRINCIPAL_ID"]) == "identity.outputs.principalId"
    api_outputs = parsed("app/api.bicep")["outputs"]
    assert api_outputs["uri"]["value"] == "https://${functionApp.properties.defaultHostName}"


def parse_block_yaml(text: str) -> dict[str, Any]:
    """The block-mapping subset of YAML azure.yaml uses: `key: scalar` and nested `key:`."""
    root: dict[str, Any] = {}
    stack: list[tuple[int, dict[str, Any]]] = [(-1, root)]
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        key, sep, value = line.strip().partition(":")
        assert sep, f"not a mapping entry: {line!r}"
        while indent <= stack[-1][0]:
            stack.pop()
        if value.strip():
            stack[-1][1][key] = value.strip()
        else:
            child: dict[str, Any] = {}
            stack[-1][1][key] = child
            stack.append((indent, child))
    return root


def test_azure_yaml_names_the_api_service_and_the_infra() -> None:
    project = parse_block_yaml((ROOT / "azure.yaml").read_text())
    assert project["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    assert project["services"] == {
        "api": {"project": ".", "language": "python", "host": "function"}
    }


# --- the Graph permission script --------------------------------------------------------------

FAKE_AZ = r"""
import json, os, re, sys

args = sys.argv[1:]
def arg(name):
    return args[args.index(name) + 1] if name in args else ""

with open(os.environ["FAKE_AZ_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
roles = json.loads(os.environ["FAKE_ROLES"])
url, query, method = arg("--url"), arg("--query"), arg("--method")
if method == "POST":
    sys.exit(0)
if "/appRoleAssignments" in url:
    print(os.environ.get("FAKE_EXISTING", ""))
elif "appId=" in url:
    print(os.environ["FAKE_GRAPH_SP"])
elif "value=='" in query:
    print(roles.get(re.search(r"value=='([^']+)'", query).group(1), "None"))
elif "id=='" in query:
    wanted = re.search(r"id=='([^']+)'", query).group(1)
    print({v: k for k, v in roles.items()}.get(wanted, "None"))
elif query == "displayName":
    print("id-api-test")
else:
    sys.exit(f"fake az: unexpected call {args}")
"""


# azd: `azd env get-value NAME` answers from FAKE_AZD_ENV (JSON), and fails for unset names as
# azd does ("key ... not found in the environment values").
FAKE_AZD = r"""
import json, os, sys

args = sys.argv[1:]
assert args[:2] == ["env", "get-value"] and len(args) == 3, args
values = json.loads(os.environ.get("FAKE_AZD_ENV", "{}"))
if args[2] not in values:
    sys.exit(f"ERROR: key '{args[2]}' not found in the environment values")
print(values[args[2]])
"""


@pytest.fixture
def script_env(tmp_path: Path) -> dict[str, str]:
    """A PATH with only what the script needs (so no real az or azd), plus the fake's state."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "basename", "cat", "grep", "tr"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    return {
        "PATH": str(bin_dir),
        "HOME": str(tmp_path),
        "FAKE_AZ_LOG": str(tmp_path / "az.log"),
        "FAKE_ROLES": json.dumps(GRAPH_ROLE_IDS),
        "FAKE_GRAPH_SP": GRAPH_SP_ID,
    }


def install_fake(env: dict[str, str], name: str, python_source: str) -> None:
    path = Path(env["PATH"]) / name
    path.write_text(f"#!{sys.executable}\n{python_source}")
    path.chmod(0o755)


def run_script(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(GRANT_SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def az_calls(env: dict[str, str], method: str) -> list[list[str]]:
    log = Path(env["FAKE_AZ_LOG"])
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return [call for call in calls if call[call.index("--method") + 1] == method]


def test_grant_script_is_valid_bash() -> None:
    result = subprocess.run(
        ["bash", "-n", str(GRANT_SCRIPT)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert os.access(GRANT_SCRIPT, os.X_OK)
    assert "set -euo pipefail" in GRANT_SCRIPT.read_text()


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_shell_scripts_pass_shellcheck() -> None:
    result = subprocess.run(
        [
            "shellcheck",
            # With the files they source (scripts/lib), which shellcheck follows and checks.
            *map(str, sorted((INFRA / "scripts").glob("**/*.sh"))),
            str(INFRA / "check.sh"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_grant_script_help_needs_no_az(script_env: dict[str, str]) -> None:
    result = run_script(script_env, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage:")
    for role in ALL_ROLES:
        assert role in result.stdout
    for flag in (
        "--provisioning-named",
        "--provisioning-logs",
        "--provisioning-actions",
        "--directory-sync",
    ):
        assert flag in result.stdout
    assert "00000003-0000-0000-c000-000000000000" in result.stdout


def test_grant_script_rejects_bad_input(script_env: dict[str, str]) -> None:
    assert run_script(script_env, "--bogus").returncode == 2
    assert run_script(script_env, "--dry-run", "not-a-guid").returncode == 2
    # No principal id and no azd to ask.
    result = run_script(script_env, "--dry-run")
    assert result.returncode == 2
    assert "API_IDENTITY_PRINCIPAL_ID" in result.stderr


def planned_roles(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    return re.findall(r"would assign Microsoft Graph application role (\S+):", result.stdout)


def test_grant_script_dry_run_without_az_prints_the_plan(script_env: dict[str, str]) -> None:
    # The principal id comes from the azd environment when not given.
    install_fake(script_env, "azd", FAKE_AZD)
    script_env["FAKE_AZD_ENV"] = json.dumps({"API_IDENTITY_PRINCIPAL_ID": GUID})
    result = run_script(script_env, "--all", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert f"Principal: {GUID}" in result.stdout
    planned = re.findall(r"would assign Microsoft Graph application role (\S+):", result.stdout)
    assert planned == ALL_ROLES

    # Nothing set in the azd environment: the app's defaults.
    result = run_script(script_env, "--dry-run", GUID)
    assert planned_roles(result) == DEFAULT_ROLES
    assert (
        "Sources (from the azd environment): School Data Sync, provisioning jobs (discovered), "
        "directory synchronization\n"
    ) in result.stdout
    # Without --dry-run, az is required.
    assert run_script(script_env, GUID).returncode == 1


def test_grant_script_without_azd_uses_the_apps_defaults(script_env: dict[str, str]) -> None:
    result = run_script(script_env, "--dry-run", GUID)
    assert planned_roles(result) == DEFAULT_ROLES
    assert "Sources (from the app's defaults (no azd)): School Data Sync, " in result.stdout


ONLY_SDS = {"PROVISIONING_JOBS_ENABLED": "false", "DIRECTORY_SYNC_ENABLED": "false"}


@pytest.mark.parametrize(
    ("azd_env", "roles"),
    [
        (
            {
                "SDS_PROFILES_ENABLED": "false",
                "PROVISIONING_JOBS_ENABLED": "false",
                "DIRECTORY_SYNC_ENABLED": "false",
                "INDUSTRY_DATA_RUNS_ENABLED": "true",
            },
            ["IndustryData-Run.Read.All"],
        ),
        # Named service principals: no discovery, so no Application.Read.All.
        (
            {
                **ONLY_SDS,
                "PROVISIONING_JOBS_ENABLED": "true",
                "PROVISIONING_SERVICE_PRINCIPAL_IDS": f"{GUID}, {GUID.upper()}",
            },
            ["EduAdministration.Read.All", "Synchronization.Read.All"],
        ),
        # auto (any case), empty and only commas all mean discovery, as in the app.
        (
            {
                **ONLY_SDS,
                "PROVISIONING_JOBS_ENABLED": "",
                "PROVISIONING_SERVICE_PRINCIPAL_IDS": " AUTO ",
            },
            ["EduAdministration.Read.All", "Synchronization.Read.All", "Application.Read.All"],
        ),
        (
            {
                **ONLY_SDS,
                "PROVISIONING_JOBS_ENABLED": "true",
                "PROVISIONING_SERVICE_PRINCIPAL_IDS": " , ",
            },
            ["EduAdministration.Read.All", "Synchronization.Read.All", "Application.Read.All"],
        ),
        # The provisioning logs add AuditLog.Read.All, only while provisioning is on.
        (
            {
                **ONLY_SDS,
                "PROVISIONING_JOBS_ENABLED": "yes",
                "PROVISIONING_LOGS_ENABLED": "TRUE",
                "PROVISIONING_SERVICE_PRINCIPAL_IDS": GUID,
            },
            ["EduAdministration.Read.All", "Synchronization.Read.All", "AuditLog.Read.All"],
        ),
        ({**ONLY_SDS, "PROVISIONING_LOGS_ENABLED": "true"}, ["EduAdministration.Read.All"]),
        # The job actions add Synchronization.ReadWrite.All (the read role stays), only while
        # provisioning is on.
        (
            {
                **ONLY_SDS,
                "PROVISIONING_JOBS_ENABLED": "true",
                "PROVISIONING_ACTIONS_ENABLED": "True",
                "PROVISIONING_SERVICE_PRINCIPAL_IDS": GUID,
            },
            [
                "EduAdministration.Read.All",
                "Synchronization.Read.All",
                "Synchronization.ReadWrite.All",
            ],
        ),
        (
            {
                **ONLY_SDS,
                "PROVISIONING_JOBS_ENABLED": "1",
                "PROVISIONING_LOGS_ENABLED": "true",
                "PROVISIONING_ACTIONS_ENABLED": "yes",
            },
            [
                "EduAdministration.Read.All",
                "Synchronization.Read.All",
                "Application.Read.All",
                "AuditLog.Read.All",
                "Synchronization.ReadWrite.All",
            ],
        ),
        (
            {**ONLY_SDS, "PROVISIONING_ACTIONS_ENABLED": "true"},
            ["EduAdministration.Read.All"],
        ),
        (
            {"PROVISIONING_ACTIONS_ENABLED": "false"},
            DEFAULT_ROLES,
        ),
        (
            {"PROVISIONING_SERVICE_PRINCIPAL_IDS": GUID, "PROVISIONING_JOBS_ENABLED": "False"},
            ["EduAdministration.Read.All", "Organization.Read.All"],
        ),
        # The app's other spellings of true and false.
        (
            {**ONLY_SDS, "SDS_PROFILES_ENABLED": "no", "INDUSTRY_DATA_RUNS_ENABLED": "1"},
            ["IndustryData-Run.Read.All"],
        ),
        (
            {
                "SDS_PROFILES_ENABLED": "TRUE",
                "PROVISIONING_LOGS_ENABLED": "1",
                "PROVISIONING_ACTIONS_ENABLED": "TRUE",
                "DIRECTORY_SYNC_ENABLED": "Yes",
                "INDUSTRY_DATA_RUNS_ENABLED": "yes",
            },
            ALL_ROLES,
        ),
    ],
)
def test_grant_script_follows_the_sources_in_the_azd_environment(
    script_env: dict[str, str], azd_env: dict[str, str], roles: list[str]
) -> None:
    install_fake(script_env, "azd", FAKE_AZD)
    script_env["FAKE_AZD_ENV"] = json.dumps({"API_IDENTITY_PRINCIPAL_ID": GUID, **azd_env})
    assert set(azd_env) <= SOURCE_SWITCHES  # the variables main.parameters.json reads
    assert planned_roles(run_script(script_env, "--dry-run")) == roles


def test_grant_script_flags_override_the_azd_environment(script_env: dict[str, str]) -> None:
    install_fake(script_env, "azd", FAKE_AZD)
    script_env["FAKE_AZD_ENV"] = json.dumps(
        {"SDS_PROFILES_ENABLED": "false", "INDUSTRY_DATA_RUNS_ENABLED": "bogus"}
    )
    result = run_script(script_env, "--dry-run", "--sds", GUID)
    assert planned_roles(result) == ["EduAdministration.Read.All"]
    assert "Sources (from the command line): School Data Sync" in result.stdout


def test_grant_script_refuses_an_azd_environment_the_app_would_refuse(
    script_env: dict[str, str],
) -> None:
    install_fake(script_env, "azd", FAKE_AZD)
    script_env["FAKE_AZD_ENV"] = json.dumps({"INDUSTRY_DATA_RUNS_ENABLED": "maybe"})
    result = run_script(script_env, "--dry-run", GUID)
    assert result.returncode == 1
    assert "INDUSTRY_DATA_RUNS_ENABLED" in result.stderr

    for bad in (
        {"PROVISIONING_LOGS_ENABLED": "perhaps"},
        {"PROVISIONING_ACTIONS_ENABLED": "sometimes"},
        {"DIRECTORY_SYNC_ENABLED": "maybe"},
        {"PROVISIONING_SERVICE_PRINCIPAL_IDS": f"{GUID}, not-a-guid"},
        {"PROVISIONING_SERVICE_PRINCIPAL_IDS": f"auto, {GUID}"},
    ):
        script_env["FAKE_AZD_ENV"] = json.dumps(bad)
        result = run_script(script_env, "--dry-run", GUID)
        assert result.returncode == 1, bad
        assert next(iter(bad)) in result.stderr

    script_env["FAKE_AZD_ENV"] = json.dumps({"SDS_PROFILES_ENABLED": "false", **ONLY_SDS})
    result = run_script(script_env, "--dry-run", GUID)
    assert result.returncode == 1
    assert "enables no source" in result.stderr


def test_grant_script_assigns_missing_roles_and_skips_held_ones(script_env: dict[str, str]) -> None:
    install_fake(script_env, "az", FAKE_AZ)
    held = GRAPH_ROLE_IDS["EduAdministration.Read.All"]
    extra = GRAPH_ROLE_IDS["User.Read.All"]
    script_env["FAKE_EXISTING"] = f"assignment-1\t{held}\nassignment-2\t{extra}"

    result = run_script(script_env, "--sds", "--industry-data", "--principal-id", GUID)
    assert result.returncode == 0, result.stderr
    assert "skip   EduAdministration.Read.All" in result.stdout
    assert "added  IndustryData-Run.Read.All" in result.stdout
    assert "Synchronization.Read.All" not in result.stdout
    # The held role the sources do not need is reported, not removed.
    assert "also holds User.Read.All" in result.stdout
    assert "appRoleAssignments/assignment-2" in result.stdout
    assert az_calls(script_env, "DELETE") == []

    posts = az_calls(script_env, "POST")
    assert len(posts) == 1
    post = posts[0]
    assert post[post.index("--url") + 1] == (
        f"https://graph.microsoft.com/v1.0/servicePrincipals/{GUID}/appRoleAssignments"
    )
    assert json.loads(post[post.index("--body") + 1]) == {
        "principalId": GUID,
        "resourceId": GRAPH_SP_ID,
        "appRoleId": GRAPH_ROLE_IDS["IndustryData-Run.Read.All"],
    }


def test_grant_script_is_idempotent_and_dry_run_changes_nothing(
    script_env: dict[str, str],
) -> None:
    install_fake(script_env, "az", FAKE_AZ)
    # Role ids compare case-insensitively (one held id in upper case here).
    script_env["FAKE_EXISTING"] = (
        f"a-0\t{GRAPH_ROLE_IDS['EduAdministration.Read.All']}\n"
        f"a-1\t{GRAPH_ROLE_IDS['Synchronization.Read.All'].upper()}"
    )
    result = run_script(script_env, "--sds", "--provisioning-named", GUID)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("skip   ") == 2
    assert "note" not in result.stdout

    result = run_script(script_env, "--all", "--dry-run", GUID)
    assert result.returncode == 0, result.stderr
    for role in ALL_ROLES[2:]:
        assert f"would  assign {role}" in result.stdout
    assert az_calls(script_env, "POST") == []


@pytest.mark.parametrize(
    ("flags", "roles"),
    [
        (["--provisioning"], ["Synchronization.Read.All", "Application.Read.All"]),
        (["--provisioning-named"], ["Synchronization.Read.All"]),
        (
            ["--provisioning-logs"],
            ["Synchronization.Read.All", "Application.Read.All", "AuditLog.Read.All"],
        ),
        (
            ["--provisioning-named", "--provisioning-logs"],
            ["Synchronization.Read.All", "AuditLog.Read.All"],
        ),
        # The job actions: ReadWrite next to the read role; alone, they imply --provisioning.
        (
            ["--provisioning-actions"],
            ["Synchronization.Read.All", "Application.Read.All", "Synchronization.ReadWrite.All"],
        ),
        (
            ["--provisioning-named", "--provisioning-actions"],
            ["Synchronization.Read.All", "Synchronization.ReadWrite.All"],
        ),
        (
            ["--sds", "--provisioning-actions", "--provisioning-logs"],
            [
                "EduAdministration.Read.All",
                "Synchronization.Read.All",
                "Application.Read.All",
                "AuditLog.Read.All",
                "Synchronization.ReadWrite.All",
            ],
        ),
        (["--directory-sync"], ["Organization.Read.All"]),
        (["--all"], ALL_ROLES),
    ],
)
def test_grant_script_flags_choose_the_roles(
    script_env: dict[str, str], flags: list[str], roles: list[str]
) -> None:
    result = run_script(script_env, "--dry-run", *flags, GUID)
    assert planned_roles(result) == roles
    assert ("Entra ID P1" in result.stdout) == ("AuditLog.Read.All" in roles)
    actions = "Synchronization.ReadWrite.All" in roles
    assert ("provisioning job actions" in result.stdout) == actions
    assert ("only with PROVISIONING_ACTIONS_ENABLED=true" in result.stdout) == actions


def test_grant_script_grants_the_job_actions_role_beside_the_read_one(
    script_env: dict[str, str],
) -> None:
    install_fake(script_env, "az", FAKE_AZ)
    install_fake(script_env, "azd", FAKE_AZD)
    read = GRAPH_ROLE_IDS["Synchronization.Read.All"]
    write = GRAPH_ROLE_IDS["Synchronization.ReadWrite.All"]
    # Only provisioning jobs of a named service principal (no discovery), with job actions.
    only_named_jobs = {
        "API_IDENTITY_PRINCIPAL_ID": GUID,
        "SDS_PROFILES_ENABLED": "false",
        "DIRECTORY_SYNC_ENABLED": "false",
        "PROVISIONING_SERVICE_PRINCIPAL_IDS": GUID,
    }
    script_env["FAKE_EXISTING"] = f"a-1\t{read}"
    script_env["FAKE_AZD_ENV"] = json.dumps(
        {**only_named_jobs, "PROVISIONING_ACTIONS_ENABLED": "true"}
    )
    result = run_script(script_env)
    assert result.returncode == 0, result.stderr
    # ReadWrite includes Read, but the read role stays: polling needs only it.
    assert "skip   Synchronization.Read.All" in result.stdout
    assert "added  Synchronization.ReadWrite.All" in result.stdout
    assert "note" not in result.stdout
    posts = az_calls(script_env, "POST")
    assert [json.loads(post[post.index("--body") + 1])["appRoleId"] for post in posts] == [write]

    # Actions switched off again: the ReadWrite role is reported (not removed).
    Path(script_env["FAKE_AZ_LOG"]).unlink()
    script_env["FAKE_EXISTING"] = f"a-1\t{read}\na-2\t{write}"
    script_env["FAKE_AZD_ENV"] = json.dumps(only_named_jobs)
    result = run_script(script_env)
    assert result.returncode == 0, result.stderr
    assert "also holds Synchronization.ReadWrite.All" in result.stdout
    assert "appRoleAssignments/a-2" in result.stdout
    assert az_calls(script_env, "POST") == []
    assert az_calls(script_env, "DELETE") == []
