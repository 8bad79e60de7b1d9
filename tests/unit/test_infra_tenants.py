"""The multi-tenant app (GRAPH_AUTH=federated) and the consent link: the scripts that make
the app registration with its federated credential and print a tenant's consent link, run
against a stand-in `az` holding a small Graph (Entra cannot be reached from here)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_infra import (
    BICEP_FILES,
    FAKE_AZD,
    GRANT_SCRIPT,
    GRAPH_ROLE_IDS,
    GRAPH_SP_ID,
    GUID,
    INFRA,
    accessor,
    app_settings,
    decorators,
    install_fake,
    main_module_params,
    param_default,
    parsed,
)

# --- the multi-tenant app (GRAPH_AUTH=federated) and the consent link -------------------------

MULTITENANT_SCRIPT = INFRA / "scripts" / "create-multitenant-app.sh"
CONSENT_SCRIPT = INFRA / "scripts" / "consent-link.sh"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
HOME_TENANT = "66666666-7777-8888-9999-000000000000"
IDENTITY_CLIENT_ID = "22222222-3333-4444-5555-666666666666"
FUNCTION_APP = "func-api-abc123"
FUNCTION_APP_URL = f"https://{FUNCTION_APP}.azurewebsites.net"
# What `azd provision` leaves in the environment (outputs of infra/main.bicep).
AZD_OUTPUTS = {
    "API_IDENTITY_PRINCIPAL_ID": GUID,
    "API_IDENTITY_CLIENT_ID": IDENTITY_CLIENT_ID,
    "AZURE_TENANT_ID": HOME_TENANT,
    "AZURE_FUNCTION_APP_NAME": FUNCTION_APP,
    "AZURE_FUNCTION_APP_URL": FUNCTION_APP_URL,
}
# The credential the app's token exchange needs (shared/graph/credentials.py): Entra's v2.0
# issuer of the home tenant, where the managed identity's tokens come from; its principal id.
EXPECTED_ISSUER = f"https://login.microsoftonline.com/{HOME_TENANT}/v2.0"
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"

# az against a small in-memory Microsoft Graph (a JSON file, FAKE_GRAPH): `az account show` and
# `az rest` on the service principals, applications and federated identity credentials the
# script touches, answering as Graph does (404 for what is missing, 201 with the object for a
# created app, 204 for an update) and printing as az does (--query is matched against the
# queries the script uses; -o tsv: a list's items on rows, a row's items tab-separated, null as
# None). Every call is logged to FAKE_AZ_LOG.
FAKE_GRAPH_AZ = r"""
import itertools, json, os, re, sys

args = sys.argv[1:]
def arg(name):
    return args[args.index(name) + 1] if name in args else ""

with open(os.environ["FAKE_AZ_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
with open(os.environ["FAKE_GRAPH"]) as file:
    graph = json.load(file)

def save():
    with open(os.environ["FAKE_GRAPH"], "w") as file:
        json.dump(graph, file)

def fail(status, message):
    sys.exit(f"ERROR: {status} {message}")

GRAPH_APP = "00000003-0000-0000-c000-000000000000"
def evaluate(query, doc):
    if doc is None or query == "":
        return doc
    if re.fullmatch(r"\w+", query):
        return doc.get(query)
    keys = re.fullmatch(r"\[\[([\w, ]+)\]\]", query)
    if keys:
        return [[doc.get(key.strip()) for key in keys.group(1).split(",")]]
    if query == "web.redirectUris":
        return (doc.get("web") or {}).get("redirectUris")
    role = re.fullmatch(r"appRoles\[\?value=='([^']+)' && contains\(allowedMemberTypes, "
                        r"'Application'\)\]\.id \| \[0\]", query)
    if role:
        found = [r["id"] for r in doc["appRoles"] if r["value"] == role.group(1)
                 and "Application" in r["allowedMemberTypes"]]
        return found[0] if found else None
    role = re.fullmatch(r"appRoles\[\?id=='([^']+)'\]\.value \| \[0\]", query)
    if role:
        found = [r["value"] for r in doc["appRoles"] if r["id"] == role.group(1)]
        return found[0] if found else None
    entry = doc.get("requiredResourceAccess") or []
    if query == (f"requiredResourceAccess[?resourceAppId=='{GRAPH_APP}'].resourceAccess[] "
                 "| [?type=='Role'].id"):
        return [a["id"] for e in entry if e["resourceAppId"] == GRAPH_APP
                for a in e["resourceAccess"] if a["type"] == "Role"]
    if query == f"requiredResourceAccess[?resourceAppId!='{GRAPH_APP}']":
        return [e for e in entry if e["resourceAppId"] != GRAPH_APP]
    if query == "value[].[id, name, issuer, subject, join(' ', audiences)]":
        return [[c["id"], c["name"], c["issuer"], c["subject"], " ".join(c["audiences"])]
                for c in doc["value"]]
    sys.exit(f"fake az: unexpected query {query!r}")

def cell(value):
    if isinstance(value, list):
        return str(len(value))
    return "" if isinstance(value, dict) else str(value)

def output(result):
    if arg("--output") == "none" or result is None:
        return
    if arg("--output") == "json":
        print(json.dumps(result, indent=2))
        return
    assert arg("--output") == "tsv", args
    for row in result if isinstance(result, list) else [result]:
        print("\t".join(cell(v) for v in row) if isinstance(row, list) else cell(row))

if args[:2] == ["account", "show"]:
    output(evaluate(arg("--query"), {"tenantId": graph["signedInTenant"]}))
    sys.exit(0)
assert args[0] == "rest", args
method, url = arg("--method"), arg("--url")
assert url.startswith("https://graph.microsoft.com/v1.0/"), url
path = url.removeprefix("https://graph.microsoft.com/v1.0/").split("?")[0]
body = json.loads(arg("--body")) if "--body" in args else None
headers = args[args.index("--headers") + 1:] if "--headers" in args else []
ids = (f"{n:08d}-aaaa-bbbb-cccc-{n:012d}" for n in itertools.count(graph.setdefault("next", 1)))

def new_id():
    graph["next"] += 1
    return next(ids)

def application(path):
    match = re.fullmatch(r"applications(?:\((appId|uniqueName)='([^']+)'\)|/([^/]+))", path)
    key, value = ("id", match.group(3)) if match.group(3) else match.group(1, 2)
    return next((a for a in graph["applications"] if a.get(key) == value), None), key, value

if path.startswith("servicePrincipals"):
    assert method == "GET", args
    if path == f"servicePrincipals(appId='{GRAPH_APP}')":
        output(evaluate(arg("--query"), {"id": graph["graphServicePrincipal"]["id"]}))
    else:
        found = graph["servicePrincipals"].get(path.split("/", 1)[1])
        if found is None:
            fail(404, "Resource does not exist")
        output(evaluate(arg("--query"), found))
    sys.exit(0)

app_path, _, credentials = path.partition("/federatedIdentityCredentials")
app, key, value = application(app_path)
if not _:
    if method == "GET":
        if app is None:
            fail(404, "Resource does not exist")
        output(evaluate(arg("--query"), app))
    elif method == "PATCH":
        if app is None:
            if key != "uniqueName" or "Prefer=create-if-missing" not in headers:
                fail(404, "Resource does not exist")
            assert "displayName" in body, body
            app = {"id": new_id(), "appId": new_id(), "uniqueName": value,
                   "federatedIdentityCredentials": [], **body}
            graph["applications"].append(app)
            save()
            output(evaluate(arg("--query"), app))  # 201 Created, with the app
        else:
            app.update(body)
            save()  # 204 No Content
    else:
        sys.exit(f"fake az: unexpected call {args}")
    sys.exit(0)

if app is None:
    fail(404, "Resource does not exist")
fics = app["federatedIdentityCredentials"]
if method == "GET" and credentials == "":
    output(evaluate(arg("--query"), {"value": fics}))
elif method == "POST" and credentials == "":
    assert set(body) <= {"name", "issuer", "subject", "audiences", "description"}, body
    if any(f["name"] == body["name"] for f in fics):
        fail(409, "a federated identity credential with this name exists")
    if any((f["issuer"], f["subject"]) == (body["issuer"], body["subject"]) for f in fics):
        fail(400, "a federated identity credential with this issuer and subject exists")
    fics.append({"id": new_id(), **body})
    save()
elif method == "PATCH" and credentials.startswith("/"):
    assert "name" not in body, "a credential's name cannot change"
    fic = next(f for f in fics if f["id"] == credentials[1:])
    fic.update(body)
    save()
else:
    sys.exit(f"fake az: unexpected call {args}")
"""


def registry_permissions() -> set[str]:
    """Every Graph permission a source of the registry declares, for any configuration."""
    from shared.sources import SOURCES

    return {source.permission for source in SOURCES} | {
        permission for source in SOURCES for permission, _when in source.extra_permissions
    }


def polling_permissions() -> set[str]:
    """What the multi-tenant app declares by default: the permission each source polls with,
    and discovery's (PROVISIONING_SERVICE_PRINCIPAL_IDS=auto, the default a tenant keeps); not
    the provisioning logs' nor the job actions', which are off unless a setting turns them on."""
    from shared.sources import SOURCES

    return {source.permission for source in SOURCES} | {"Application.Read.All"}


WRITE_PERMISSION = "Synchronization.ReadWrite.All"


def fake_graph(**changes: Any) -> dict[str, Any]:
    graph: dict[str, Any] = {
        "signedInTenant": HOME_TENANT,
        "graphServicePrincipal": {"id": GRAPH_SP_ID},
        "servicePrincipals": {
            GUID: {
                "id": GUID,
                "appId": IDENTITY_CLIENT_ID,
                "displayName": "id-api-abc123",
                "servicePrincipalType": "ManagedIdentity",
            },
            GRAPH_SP_ID: {
                "id": GRAPH_SP_ID,
                "appId": GRAPH_APP_ID,
                "appRoles": [
                    {"id": role_id, "value": value, "allowedMemberTypes": ["Application"]}
                    for value, role_id in GRAPH_ROLE_IDS.items()
                ],
            },
        },
        "applications": [],
    }
    graph.update(changes)
    return graph


@pytest.fixture
def graph_env(tmp_path: Path) -> dict[str, str]:
    """A PATH with only what the scripts need, az against the fake Graph, azd with the outputs
    of `azd provision`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "basename", "cat", "grep", "tr", "sleep"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    env = {
        "PATH": str(bin_dir),
        "HOME": str(tmp_path),
        "FAKE_AZ_LOG": str(tmp_path / "az.log"),
        "FAKE_GRAPH": str(tmp_path / "graph.json"),
        "FAKE_AZD_ENV": json.dumps(AZD_OUTPUTS),
    }
    install_fake(env, "az", FAKE_GRAPH_AZ)
    install_fake(env, "azd", FAKE_AZD)
    set_graph(env, fake_graph())
    return env


def set_graph(env: dict[str, str], graph: dict[str, Any]) -> None:
    Path(env["FAKE_GRAPH"]).write_text(json.dumps(graph))


def graph_of(env: dict[str, str]) -> dict[str, Any]:
    return json.loads(Path(env["FAKE_GRAPH"]).read_text())


def run_bash(script: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def graph_writes(env: dict[str, str]) -> list[tuple[str, str, Any]]:
    """(method, url, body) of every az rest call that changes something."""
    log = Path(env["FAKE_AZ_LOG"])
    writes = []
    for line in log.read_text().splitlines() if log.exists() else []:
        call = json.loads(line)
        if call[0] == "rest" and call[call.index("--method") + 1] != "GET":
            body = json.loads(call[call.index("--body") + 1]) if "--body" in call else None
            writes.append((call[call.index("--method") + 1], call[call.index("--url") + 1], body))
    return writes


def only_app(env: dict[str, str]) -> dict[str, Any]:
    apps = graph_of(env)["applications"]
    assert len(apps) == 1, apps
    return apps[0]


def declared_permissions(app: dict[str, Any]) -> list[str]:
    """The Graph application permissions an app registration declares, by name."""
    names = {role_id: value for value, role_id in GRAPH_ROLE_IDS.items()}
    graph = [e for e in app["requiredResourceAccess"] if e["resourceAppId"] == GRAPH_APP_ID]
    assert len(graph) == 1, app["requiredResourceAccess"]
    return [names[a["id"]] for a in graph[0]["resourceAccess"] if a["type"] == "Role"]


@pytest.mark.parametrize("script", [MULTITENANT_SCRIPT, CONSENT_SCRIPT], ids=lambda p: p.name)
def test_multitenant_scripts_are_strict_executable_bash(script: Path) -> None:
    assert script.is_file(), script
    assert os.access(script, os.X_OK), f"{script.name} is not executable"
    lines = script.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    # Strict mode as the first command: before it, only comments.
    first_command = next(line for line in lines[1:] if line and not line.startswith("#"))
    assert first_command == "set -euo pipefail"
    result = subprocess.run(
        ["bash", "-n", str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_multitenant_script_says_why_it_is_not_bicep() -> None:
    header = MULTITENANT_SCRIPT.read_text().split("set -euo pipefail", 1)[0]
    assert "Microsoft Graph Bicep extension" in header
    assert "azd provision" in header
    # No Bicep file declares Graph objects (the extension) instead.
    for path in BICEP_FILES:
        tree = parsed(path.relative_to(INFRA).as_posix())
        assert not tree.get("extensions") and not tree.get("imports"), path.name
        assert not any(r["type"].startswith("Microsoft.Graph/") for r in tree["resources"].values())


def test_multitenant_app_help_needs_no_az(graph_env: dict[str, str]) -> None:
    (Path(graph_env["PATH"]) / "az").unlink()
    result = run_bash(MULTITENANT_SCRIPT, graph_env, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage:")
    for permission in registry_permissions():
        assert permission in result.stdout, permission
    for text in ("AzureADMultipleOrgs", TOKEN_EXCHANGE_AUDIENCE, "--provisioning-actions"):
        assert text in result.stdout
    assert not Path(graph_env["FAKE_AZ_LOG"]).exists()


def test_multitenant_app_is_created_with_the_federated_credential(
    graph_env: dict[str, str],
) -> None:
    result = run_bash(MULTITENANT_SCRIPT, graph_env)
    assert result.returncode == 0, result.stderr
    app = only_app(graph_env)
    assert app["signInAudience"] == "AzureADMultipleOrgs"
    assert app["uniqueName"] == f"syncstatus-{FUNCTION_APP}"
    assert app["displayName"] == f"SyncStatus Graph ({FUNCTION_APP})"
    # Entra sends an administrator back to the app after the admin consent.
    assert app["web"] == {"redirectUris": [FUNCTION_APP_URL]}

    # The federated credential: the home tenant's issuer, the identity's principal (object) id
    # as the subject (never its client id), and the token exchange's audience, exactly.
    posts = [(url, body) for method, url, body in graph_writes(graph_env) if method == "POST"]
    assert posts == [
        (
            f"https://graph.microsoft.com/v1.0/applications/{app['id']}/federatedIdentityCredentials",
            {
                "name": f"syncstatus-{GUID}",
                "issuer": EXPECTED_ISSUER,
                "subject": GUID,
                "audiences": [TOKEN_EXCHANGE_AUDIENCE],
                "description": "SyncStatus: the function app's user-assigned managed identity",
            },
        )
    ]
    (credential,) = app["federatedIdentityCredentials"]
    assert (credential["issuer"], credential["subject"], credential["audiences"]) == (
        EXPECTED_ISSUER,
        GUID,
        [TOKEN_EXCHANGE_AUDIENCE],
    )
    assert credential["subject"] != IDENTITY_CLIENT_ID

    # It prints the client id and the azd commands, which configure the app as it needs.
    assert f"client id: {app['appId']}" in result.stdout
    commands = dict(re.findall(r"^  azd env set (\w+) (\S+)$", result.stdout, re.MULTILINE))
    assert commands == {"GRAPH_APP_CLIENT_ID": app["appId"], "GRAPH_AUTH": "federated"}
    assert f"consent-link.sh {HOME_TENANT}" in result.stdout
    from shared.sources import load_settings

    settings = load_settings(
        {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "HOME_TENANT_ID": HOME_TENANT}
        | commands
    )
    assert (settings.graph_auth, settings.graph_app_client_id) == ("federated", app["appId"])


def test_multitenant_app_is_idempotent(graph_env: dict[str, str]) -> None:
    assert run_bash(MULTITENANT_SCRIPT, graph_env).returncode == 0
    first = only_app(graph_env)
    Path(graph_env["FAKE_AZ_LOG"]).unlink()

    # Again, found by its uniqueName: updated in place, the credential left as it is.
    result = run_bash(MULTITENANT_SCRIPT, graph_env)
    assert result.returncode == 0, result.stderr
    assert "skip   federated credential" in result.stdout
    assert only_app(graph_env) == first
    writes = graph_writes(graph_env)
    assert [(method, url) for method, url, _ in writes] == [
        ("PATCH", f"https://graph.microsoft.com/v1.0/applications/{first['id']}")
    ]

    # Once GRAPH_APP_CLIENT_ID is set, that app is the one updated (found by its client id).
    Path(graph_env["FAKE_AZ_LOG"]).unlink()
    graph_env["FAKE_AZD_ENV"] = json.dumps({**AZD_OUTPUTS, "GRAPH_APP_CLIENT_ID": first["appId"]})
    result = run_bash(MULTITENANT_SCRIPT, graph_env)
    assert result.returncode == 0, result.stderr
    assert only_app(graph_env) == first
    assert [method for method, _, _ in graph_writes(graph_env)] == ["PATCH"]


def test_multitenant_app_trusts_a_new_identity_and_reports_the_old_one(
    graph_env: dict[str, str],
) -> None:
    assert run_bash(MULTITENANT_SCRIPT, graph_env).returncode == 0
    # The environment re-created: a new identity (principal id) for the same app.
    new_principal = "33333333-4444-5555-6666-777777777777"
    graph = graph_of(graph_env)
    graph["servicePrincipals"][new_principal] = {
        **graph["servicePrincipals"][GUID],
        "id": new_principal,
        "appId": "44444444-5555-6666-7777-888888888888",
    }
    set_graph(graph_env, graph)
    graph_env["FAKE_AZD_ENV"] = json.dumps(
        {
            **AZD_OUTPUTS,
            "API_IDENTITY_PRINCIPAL_ID": new_principal,
            "API_IDENTITY_CLIENT_ID": "44444444-5555-6666-7777-888888888888",
        }
    )
    result = run_bash(MULTITENANT_SCRIPT, graph_env)
    assert result.returncode == 0, result.stderr
    subjects = [c["subject"] for c in only_app(graph_env)["federatedIdentityCredentials"]]
    assert subjects == [GUID, new_principal]
    # The old one is reported with the command to remove it, not removed.
    old = only_app(graph_env)["federatedIdentityCredentials"][0]
    assert f"subject {GUID}" in result.stdout
    assert f"federatedIdentityCredentials/{old['id']}" in result.stdout
    assert "DELETE" not in {method for method, _, _ in graph_writes(graph_env)}


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([], polling_permissions()),
        (["--provisioning-actions"], polling_permissions() | {WRITE_PERMISSION}),
        (["--provisioning-logs"], polling_permissions() | {"AuditLog.Read.All"}),
        (["--all"], registry_permissions()),
        (["--sds"], {"EduAdministration.Read.All"}),
        (["--provisioning-named"], {"Synchronization.Read.All"}),
        (
            ["--directory-sync", "--provisioning-actions"],
            {
                "Organization.Read.All",
                "Synchronization.Read.All",
                "Application.Read.All",
                WRITE_PERMISSION,
            },
        ),
        (
            ["--industry-data", "--provisioning"],
            {"IndustryData-Run.Read.All", "Synchronization.Read.All", "Application.Read.All"},
        ),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_multitenant_app_declares_only_permissions_the_sources_declare(
    graph_env: dict[str, str], flags: list[str], expected: set[str]
) -> None:
    result = run_bash(MULTITENANT_SCRIPT, graph_env, *flags)
    assert result.returncode == 0, result.stderr
    app = only_app(graph_env)
    declared = declared_permissions(app)
    assert len(declared) == len(set(declared)), declared
    assert set(declared) <= registry_permissions()
    assert set(declared) == expected
    # The one write permission only when the job actions are asked for.
    wants_actions = "--provisioning-actions" in flags or "--all" in flags
    assert (WRITE_PERMISSION in declared) == wants_actions
    assert {p for p in declared if ".ReadWrite." in p} <= {WRITE_PERMISSION}
    # Application permissions of Microsoft Graph alone: no delegated scope, no other API.
    assert [e["resourceAppId"] for e in app["requiredResourceAccess"]] == [GRAPH_APP_ID]
    assert {a["type"] for a in app["requiredResourceAccess"][0]["resourceAccess"]} == {"Role"}


def test_multitenant_script_knows_exactly_the_registrys_permissions() -> None:
    roles = re.findall(r'^readonly ROLE_\w+="([^"]+)"', MULTITENANT_SCRIPT.read_text(), re.M)
    assert len(roles) == len(set(roles)), roles
    assert set(roles) == registry_permissions()
    # The same as the grant script's, so the two cannot drift apart.
    assert set(roles) == set(
        re.findall(r'^readonly ROLE_\w+="([^"]+)"', GRANT_SCRIPT.read_text(), re.M)
    )


def test_multitenant_app_update_keeps_what_is_not_its_own(graph_env: dict[str, str]) -> None:
    other_api = {
        "resourceAppId": "00000002-0000-0ff1-ce00-000000000000",
        "resourceAccess": [{"id": "dc50a0fb-09a3-484d-be87-e023b12c6440", "type": "Role"}],
    }
    existing = {
        "id": "app-object-1",
        "appId": "55555555-6666-7777-8888-999999999999",
        "displayName": "Contoso MSP monitoring",
        "signInAudience": "AzureADMyOrg",
        "requiredResourceAccess": [
            {
                "resourceAppId": GRAPH_APP_ID,
                "resourceAccess": [
                    {"id": GRAPH_ROLE_IDS["User.Read.All"], "type": "Role"},
                    {"id": GRAPH_ROLE_IDS["Synchronization.Read.All"], "type": "Role"},
                ],
            },
            other_api,
        ],
        "web": {"redirectUris": ["https://msp.example/consented"]},
        "federatedIdentityCredentials": [],
    }
    set_graph(graph_env, fake_graph(applications=[existing]))
    result = run_bash(MULTITENANT_SCRIPT, graph_env, "--app-id", existing["appId"].upper())
    assert result.returncode == 0, result.stderr
    app = only_app(graph_env)
    assert app["appId"] == existing["appId"]
    assert app["displayName"] == "Contoso MSP monitoring"  # its name is its owner's
    assert app["signInAudience"] == "AzureADMultipleOrgs"
    assert set(declared_permissions(app)) == polling_permissions()
    assert app["requiredResourceAccess"][1:] == [other_api]
    assert app["web"]["redirectUris"] == ["https://msp.example/consented", FUNCTION_APP_URL]
    # A permission dropped stays granted where consented; added ones need consent again.
    assert "no longer declares User.Read.All" in result.stdout
    assert "must consent again" in result.stdout

    # An app id that names nothing is an error, not a new app.
    result = run_bash(MULTITENANT_SCRIPT, graph_env, "--app-id", GRAPH_SP_ID)
    assert result.returncode == 1
    assert GRAPH_SP_ID in result.stderr
    assert len(graph_of(graph_env)["applications"]) == 1


@pytest.mark.parametrize(
    ("change", "args", "code", "message"),
    [
        # The client id given as the principal id (the azd environment has the client id).
        ({}, ["--principal-id", IDENTITY_CLIENT_ID], 2, "principal (object) id"),
        ({}, ["--principal-id", GUID, "--identity-client-id", GUID], 2, "principal (object) id"),
        ({}, ["--principal-id", "77777777-0000-0000-0000-000000000000"], 1, "no service principal"),
        ({}, ["--identity-client-id", GRAPH_SP_ID], 1, "two different identities"),
        ({"type": "Application"}, [], 1, "not a managed identity"),
        ({"signedInTenant": GRAPH_SP_ID}, [], 1, f"az login --tenant {HOME_TENANT}"),
        ({}, ["--principal-id", "not-a-guid"], 2, "not a GUID"),
        ({}, ["--redirect-uri", "http://example.com/"], 2, "https"),
        ({}, ["--bogus"], 2, "unknown argument"),
    ],
)
def test_multitenant_app_refuses_the_wrong_identity_or_tenant(
    graph_env: dict[str, str], change: dict[str, str], args: list[str], code: int, message: str
) -> None:
    graph = graph_of(graph_env)
    if "type" in change:
        graph["servicePrincipals"][GUID]["servicePrincipalType"] = change["type"]
    if "signedInTenant" in change:
        graph["signedInTenant"] = change["signedInTenant"]
    set_graph(graph_env, graph)
    result = run_bash(MULTITENANT_SCRIPT, graph_env, *args)
    assert result.returncode == code, (result.stdout, result.stderr)
    assert message in result.stderr
    assert graph_writes(graph_env) == []
    assert graph_of(graph_env)["applications"] == []


def test_multitenant_app_needs_an_identity(graph_env: dict[str, str]) -> None:
    graph_env["FAKE_AZD_ENV"] = "{}"
    result = run_bash(MULTITENANT_SCRIPT, graph_env, "--unique-name", "syncstatus-test")
    assert result.returncode == 2
    assert "API_IDENTITY_PRINCIPAL_ID" in result.stderr
    # Without azd and without a name for the app either.
    result = run_bash(MULTITENANT_SCRIPT, graph_env, "--principal-id", GUID)
    assert result.returncode == 2
    assert "--unique-name" in result.stderr


def test_multitenant_app_dry_run_changes_nothing(graph_env: dict[str, str]) -> None:
    result = run_bash(MULTITENANT_SCRIPT, graph_env, "--dry-run", "--provisioning-actions")
    assert result.returncode == 0, result.stderr
    assert graph_writes(graph_env) == []
    assert graph_of(graph_env)["applications"] == []
    assert "would  POST" in result.stdout
    assert f'"issuer": "{EXPECTED_ISSUER}", "subject": "{GUID}"' in result.stdout
    assert f"permission  {WRITE_PERMISSION}" in result.stdout

    # Without az: the plan alone; without --dry-run, az is required.
    (Path(graph_env["PATH"]) / "az").unlink()
    result = run_bash(MULTITENANT_SCRIPT, graph_env, "--dry-run")
    assert result.returncode == 0, result.stderr
    planned = re.findall(
        r"would declare Microsoft Graph application permission (\S+)", result.stdout
    )
    assert set(planned) == polling_permissions()
    assert f'"audiences": ["{TOKEN_EXCHANGE_AUDIENCE}"]' in result.stdout
    assert run_bash(MULTITENANT_SCRIPT, graph_env).returncode == 1


def test_consent_link_is_the_apps_own(graph_env: dict[str, str]) -> None:
    from shared.graph.credentials import admin_consent_url

    customer = "8EEB07C6-B1F5-556A-9E1D-CF9748D7E83A"
    app = "55555555-6666-7777-8888-999999999999"
    expected = admin_consent_url(app, customer)
    assert expected == (
        f"https://login.microsoftonline.com/{customer.lower()}/adminconsent?client_id={app}"
    )
    result = run_bash(CONSENT_SCRIPT, graph_env, "--url-only", "--app-id", app.upper(), customer)
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected + "\n"

    # The client id from the azd environment (once `azd env set GRAPH_APP_CLIENT_ID`), with the
    # next steps: POST /api/tenants, then the tenant's consent.
    graph_env["FAKE_AZD_ENV"] = json.dumps({**AZD_OUTPUTS, "GRAPH_APP_CLIENT_ID": app})
    result = run_bash(CONSENT_SCRIPT, graph_env, customer)
    assert result.returncode == 0, result.stderr
    assert f"  {expected}\n" in result.stdout
    assert "POST /api/tenants" in result.stdout
    assert f"{FUNCTION_APP_URL}/api/tenants" in result.stdout
    assert f'"tenantId": "{customer.lower()}"' in result.stdout
    assert f"GET /api/tenants/{customer.lower()}" in result.stdout
    assert not Path(graph_env["FAKE_AZ_LOG"]).exists()  # it only prints

    # The home tenant is always there: a link, no POST.
    result = run_bash(CONSENT_SCRIPT, graph_env, HOME_TENANT)
    assert result.returncode == 0, result.stderr
    assert admin_consent_url(app, HOME_TENANT) in result.stdout
    assert "POST /api/tenants" not in result.stdout

    # Without azd: GRAPH_APP_CLIENT_ID from the environment.
    (Path(graph_env["PATH"]) / "azd").unlink()
    graph_env["GRAPH_APP_CLIENT_ID"] = app
    result = run_bash(CONSENT_SCRIPT, graph_env, "--url-only", customer)
    assert result.stdout == expected + "\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "which tenant"),
        (["contoso.onmicrosoft.com"], "not a GUID"),
        ([HOME_TENANT, GUID], "one tenant at a time"),
        (["--app-id", "nope", HOME_TENANT], "not a GUID"),
        (["--bogus", HOME_TENANT], "unknown option"),
    ],
)
def test_consent_link_rejects_bad_input(
    graph_env: dict[str, str], args: list[str], message: str
) -> None:
    graph_env["FAKE_AZD_ENV"] = json.dumps({"GRAPH_APP_CLIENT_ID": GUID})
    result = run_bash(CONSENT_SCRIPT, graph_env, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_consent_link_needs_the_multitenant_app(graph_env: dict[str, str]) -> None:
    result = run_bash(CONSENT_SCRIPT, graph_env, HOME_TENANT)  # azd without GRAPH_APP_CLIENT_ID
    assert result.returncode == 2
    assert "GRAPH_APP_CLIENT_ID" in result.stderr
    assert "create-multitenant-app.sh" in result.stderr


def test_graph_auth_federated_is_deployable() -> None:
    main, api = parsed("main.bicep"), parsed("app/api.bicep")
    allowed = decorators(main, "parameters", "graphAuth")["allowed"]
    assert "federated" in allowed
    assert decorators(api, "parameters", "graphAuth")["allowed"] == allowed
    # simulated is an unsigned token for the simulated Graph only: never deployed.
    assert "simulated" not in allowed
    assert param_default(main, "graphAuth") == "azure"
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert parameters["graphAuth"]["value"] == "${GRAPH_AUTH=azure}"
    assert parameters["graphAppClientId"]["value"] == "${GRAPH_APP_CLIENT_ID}"
    for parameter in ("graphAuth", "graphAppClientId"):
        assert main_module_params("api")[parameter] == parameter
    settings = app_settings()
    assert (settings["GRAPH_AUTH"], settings["GRAPH_APP_CLIENT_ID"]) == (
        "graphAuth",
        "graphAppClientId",
    )
    # Every value the template allows is one the app takes, federated with its client id.
    from shared.sources import load_settings

    for value in allowed:
        loaded = load_settings(
            {
                "AzureWebJobsStorage": "UseDevelopmentStorage=true",
                "GRAPH_AUTH": value,
                "GRAPH_APP_CLIENT_ID": GUID,
            }
        )
        assert loaded.graph_auth == value

    # The home tenant the app runs with is the deployment's own: the tenant whose issuer the
    # federated credential names (AZURE_TENANT_ID, read by the script, is the same tenant()).
    tenant_id = {"operator": {"type": "property_accessor", "operands": {
        "operand_1": {"function": {"type": "tenant"}}, "operand_2": "tenantId"}}}  # fmt: skip
    assert settings["HOME_TENANT_ID"] == tenant_id
    assert main["outputs"]["AZURE_TENANT_ID"]["value"] == tenant_id


def azd_names_read_by(script: Path) -> set[str]:
    """The azd outputs and variables a script reads: its AZD_* and ENV_* constants."""
    return set(re.findall(r'^readonly (?:AZD|ENV)_\w*="(\w+)"', script.read_text(), re.M))


@pytest.mark.parametrize(
    "script", sorted((INFRA / "scripts").glob("*.sh")), ids=lambda path: path.name
)
def test_scripts_read_only_what_azd_has(script: Path) -> None:
    main = parsed("main.bicep")
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    variables = {
        re.fullmatch(r"\$\{(\w+)(?:=.*)?\}", p["value"]).group(1) for p in parameters.values()
    }
    names = azd_names_read_by(script)
    assert names, f"{script.name} reads nothing from azd?"
    unknown = names - set(main["outputs"]) - variables
    assert not unknown, f"{script.name} reads {sorted(unknown)}, which azd does not have"


def test_identity_outputs_the_scripts_need() -> None:
    outputs = {name: o["value"] for name, o in parsed("main.bicep")["outputs"].items()}
    assert {"API_IDENTITY_PRINCIPAL_ID", "API_IDENTITY_CLIENT_ID", "AZURE_TENANT_ID"} <= (
        azd_names_read_by(MULTITENANT_SCRIPT)
    )
    # The credential's subject is the principal (object) id; the client id is only checked.
    assert accessor(outputs["API_IDENTITY_PRINCIPAL_ID"]) == "identity.outputs.principalId"
    assert accessor(outputs["API_IDENTITY_CLIENT_ID"]) == "identity.outputs.clientId"
    assert accessor(outputs["AZURE_FUNCTION_APP_NAME"]) == "api.outputs.name"
    assert accessor(outputs["AZURE_FUNCTION_APP_URL"]) == "api.outputs.uri"
