"""Unit tests of the local host's queue triggers: host.json's ``extensions.queues`` with its
defaults and app-setting overrides, ``%SETTING%`` queue names, connections, message bodies.
The listener itself runs against Azurite in tests/integration/test_local_host_queues.py."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import azure.functions as func
import pytest

from tools.local_host.__main__ import _parse_args
from tools.local_host.keys import Keys
from tools.local_host.queue_bindings import decode_body, resolve_queue_bindings
from tools.local_host.registry import QUEUE_TRIGGER, FunctionSpec, discover
from tools.local_host.server import LocalHost
from tools.local_host.settings import (
    HostConfig,
    HostConfigError,
    QueueOptions,
    read_queue_options,
    resolve_setting_references,
)

OVERRIDE = "AzureFunctionsJobHost__extensions__queues__"
STORAGE = "UseDevelopmentStorage=true"


def host_json(tmp_path: Path, queues: dict[str, object]) -> Path:
    path = tmp_path / "host.json"
    path.write_text(json.dumps({"version": "2.0", "extensions": {"queues": queues}}))
    return path


def queue_functions(
    tmp_path: Path, queue_name: str = "%POLL_QUEUE_NAME%", connection: str = "AzureWebJobsStorage"
) -> list[FunctionSpec]:
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="message", queue_name=queue_name, connection=connection)
    async def take(message: func.QueueMessage) -> None:
        return None

    return discover(app, tmp_path)


def test_without_host_json_the_options_are_azures_defaults(tmp_path: Path) -> None:
    options = read_queue_options(tmp_path / "host.json", {})
    assert options == QueueOptions(
        max_polling_interval=60.0,
        visibility_timeout=0.0,
        batch_size=16,
        new_batch_threshold=8,
        max_dequeue_count=5,
        message_encoding="base64",
    )


def test_host_json_options_are_read_without_regard_to_case(tmp_path: Path) -> None:
    path = tmp_path / "host.json"
    path.write_text(json.dumps({"Extensions": {"Queues": {
        "MaxPollingInterval": "00:00:02", "visibilityTimeout": "00:00:30.5", "BATCHSIZE": 4,
        "newBatchThreshold": 2, "maxDequeueCount": 3, "messageEncoding": "None",
    }}}))  # fmt: skip
    assert read_queue_options(path, {}) == QueueOptions(2.0, 30.5, 4, 2, 3, "none")


def test_app_settings_override_host_json(tmp_path: Path) -> None:
    path = host_json(tmp_path, {"batchSize": 4, "maxDequeueCount": 3})
    environ = {
        OVERRIDE + "batchSize": "10",
        (OVERRIDE + "VisibilityTimeout").lower(): "1.00:00:00",  # any case, as the host
        OVERRIDE + "maxPollingInterval": "00:00:01",
    }
    options = read_queue_options(path, environ)
    assert options.batch_size == 10
    assert options.new_batch_threshold == 5  # half of the batch size in effect
    assert options.visibility_timeout == 86400.0
    assert options.max_polling_interval == 1.0
    assert options.max_dequeue_count == 3  # host.json's, not overridden


def test_a_threshold_of_zero_is_allowed(tmp_path: Path) -> None:
    path = host_json(tmp_path, {"batchSize": 1, "newBatchThreshold": 0})
    assert read_queue_options(path, {}).new_batch_threshold == 0


@pytest.mark.parametrize(
    ("queues", "message"),
    [
        ({"batchSize": 33}, "out of range (1 to 32)"),
        ({"batchSize": 0}, "out of range (1 to 32)"),
        ({"batchSize": "many"}, "not a whole number"),
        ({"maxDequeueCount": 0}, "out of range (1 or more)"),
        ({"newBatchThreshold": -1}, "out of range (0 or more)"),
        ({"maxPollingInterval": "00:00:00.05"}, "at least 0.1 s"),
        ({"maxPollingInterval": "2 seconds"}, "is not a TimeSpan"),
        ({"visibilityTimeout": "00:61:00"}, "is not a TimeSpan"),
        ({"messageEncoding": "utf8"}, "is not base64 or none"),
    ],
)
def test_options_out_of_the_hosts_range_stop_the_host(
    tmp_path: Path, queues: dict[str, object], message: str
) -> None:
    with pytest.raises(HostConfigError, match=r"extensions\.queues\.") as raised:
        read_queue_options(host_json(tmp_path, queues), {})
    assert message in str(raised.value)


def test_an_overrides_error_names_the_app_setting(tmp_path: Path) -> None:
    with pytest.raises(HostConfigError, match=f"app setting {OVERRIDE}batchSize"):
        read_queue_options(tmp_path / "host.json", {OVERRIDE + "batchSize": "64"})


def test_setting_references_are_resolved_from_the_app_settings() -> None:
    environ = {"PREFIX": "sync", "KIND": "polls"}
    resolved = resolve_setting_references(
        "%PREFIX%-%KIND%", environ, function="poll", what="queue name"
    )
    assert resolved == "sync-polls"
    assert resolve_setting_references("plain", {}, function="f", what="queue name") == "plain"


def test_a_missing_setting_names_the_function_and_the_setting() -> None:
    with pytest.raises(HostConfigError) as raised:
        resolve_setting_references(
            "%POLL_QUEUE_NAME%", {}, function="poll_tenant", what="queue name"
        )
    assert "'poll_tenant'" in str(raised.value) and "'POLL_QUEUE_NAME'" in str(raised.value)


def test_queue_functions_are_discovered(tmp_path: Path) -> None:
    (spec,) = queue_functions(tmp_path)
    assert spec.trigger_type == QUEUE_TRIGGER
    assert spec.trigger.queue_name == "%POLL_QUEUE_NAME%"
    assert spec.trigger_param == "message"


def test_a_binding_resolves_the_queue_name_lower_case_and_the_connection(
    tmp_path: Path,
) -> None:
    functions = queue_functions(tmp_path)
    environ = {"POLL_QUEUE_NAME": "Sync-Polls", "AzureWebJobsStorage": STORAGE}
    (binding,) = resolve_queue_bindings(functions, environ)
    assert binding.queue_name == "sync-polls"
    assert (binding.connection_setting, binding.connection_string) == (
        "AzureWebJobsStorage", STORAGE
    )  # fmt: skip


def test_a_queue_function_whose_setting_is_missing_stops_the_host(tmp_path: Path) -> None:
    functions = queue_functions(tmp_path)
    config = HostConfig(tmp_path, "api", Keys())
    with pytest.raises(HostConfigError, match=r"'take'.*'POLL_QUEUE_NAME'"):
        LocalHost(config, functions, {"AzureWebJobsStorage": STORAGE})


@pytest.mark.parametrize("name", ["ab", "two--hyphens", "-leading", "under_score", "x" * 64])
def test_an_invalid_queue_name_stops_the_host(tmp_path: Path, name: str) -> None:
    functions = queue_functions(tmp_path, queue_name=name)
    with pytest.raises(HostConfigError, match=r"'take'.*not a valid queue name"):
        resolve_queue_bindings(functions, {"AzureWebJobsStorage": STORAGE})


def test_a_connection_is_looked_up_as_the_host_does(tmp_path: Path) -> None:
    functions = queue_functions(tmp_path, queue_name="work", connection="Jobs")
    (binding,) = resolve_queue_bindings(functions, {"AzureWebJobsJobs": STORAGE})
    assert binding.connection_setting == "AzureWebJobsJobs"
    with pytest.raises(HostConfigError, match=r"'take'.*connection 'Jobs' is not set"):
        resolve_queue_bindings(functions, {})


def test_an_identity_based_connection_is_refused_with_a_message(tmp_path: Path) -> None:
    functions = queue_functions(tmp_path, queue_name="work")
    environ = {"AzureWebJobsStorage__queueServiceUri": "https://acct.queue.core.windows.net"}
    with pytest.raises(HostConfigError, match="identity-based"):
        resolve_queue_bindings(functions, environ)


def test_bodies_are_decoded_as_the_encoding_says() -> None:
    document = b'{"kind":"poll"}'
    encoded = base64.b64encode(document).decode()
    assert decode_body(encoded, "base64") == document
    assert decode_body(encoded[:8] + "\n" + encoded[8:], "base64") == document  # as .NET
    assert decode_body('{"kind":"poll"}', "none") == document
    with pytest.raises(ValueError, match="not valid base64"):
        decode_body('{"kind":"poll"}', "base64")


def test_the_queue_lease_is_a_cli_option() -> None:
    assert _parse_args([]).queue_lease == 600
    assert _parse_args(["--queue-lease", "3"]).queue_lease == 3
    with pytest.raises(SystemExit):
        _parse_args(["--queue-lease", "1"])
