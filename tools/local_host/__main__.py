"""``python -m tools.local_host [--app-dir .] [--port 7071] [--host 127.0.0.1]
[--queue-lease 600]``.

Start-up follows Core Tools: local.settings.json ``Values`` go into the environment (an
existing variable wins), then the app is imported from its own directory, its functions
are listed with their URLs, and ``Host started`` is printed once requests are served.
SIGINT/SIGTERM stop the timers, the queue listeners and the HTTP listener, wait a few
seconds for running invocations and exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from . import logs
from .queues import DEFAULT_LEASE_SECONDS
from .registry import discover, import_function_app, stop_hook
from .server import LocalHost
from .settings import (
    HostConfigError,
    apply_values,
    load_config,
    read_local_settings,
    resolve_port,
)

logger = logging.getLogger("tools.local_host")

# How long a stopping host waits for invocations in progress.
SHUTDOWN_GRACE_SECONDS = 5.0
LOG_FORMAT = "[%(asctime)s] %(message)s"
_LOOPBACK_NAMES = ("127.0.0.1", "0.0.0.0", "::", "::1", "localhost")


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    _configure_logging(args.verbose, args.access_log)
    # Until the event loop takes over, a SIGTERM must end start-up quietly, not mid-import.
    signal.signal(signal.SIGTERM, _exit_quietly)
    started = time.perf_counter()
    try:
        host, port = _prepare(Path(args.app_dir).resolve(), args.port, args.queue_lease)
        return asyncio.run(_serve(host, args.host, port, started))
    except HostConfigError as error:
        logger.error("Cannot start the host: %s", error)
        return 1
    except KeyboardInterrupt:
        return 0


def _prepare(
    app_dir: Path, cli_port: int | None, queue_lease: int = DEFAULT_LEASE_SECONDS
) -> tuple[LocalHost, int]:
    local = read_local_settings(app_dir / "local.settings.json")
    applied = apply_values(local.values, os.environ)
    logger.info("Loaded %d setting(s) from local.settings.json", len(applied))
    port = resolve_port(cli_port, os.environ, local)
    os.chdir(app_dir)
    config = load_config(app_dir)
    if not config.keys.enforced:
        logger.warning(
            "No FUNCTIONS_MASTER_KEY or FUNCTIONS_FUNCTION_KEY set: auth levels are not "
            "enforced (as with Core Tools)"
        )
    try:
        app = import_function_app(app_dir)
        functions = discover(app, app_dir)
    except HostConfigError:
        raise
    except Exception as error:
        logger.exception("function_app.py failed to load")
        raise HostConfigError(f"function_app.py failed to load: {error}") from None
    host = LocalHost(
        config,
        functions,
        os.environ,
        grace=SHUTDOWN_GRACE_SECONDS,
        on_stop=stop_hook(),
        queue_lease=queue_lease,
    )
    return host, port


async def _serve(host: LocalHost, bind: str, port: int, started: float) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        bound = await host.start(bind, port)
    except OSError as error:
        await host.stop()
        raise HostConfigError(f"cannot listen on {bind}:{port}: {error.strerror}") from None
    shown = "localhost" if bind in _LOOPBACK_NAMES else bind
    # As Azure (and Core Tools) do: the app's own host name, the origin of the links it
    # builds; the address it is bound to, so that the links work whatever localhost means.
    own = shown if bind in ("0.0.0.0", "::") else (f"[{bind}]" if ":" in bind else bind)
    os.environ.setdefault("WEBSITE_HOSTNAME", f"{own}:{bound}")
    print("\n".join(host.describe(f"http://{shown}:{bound}")), flush=True)
    elapsed = round((time.perf_counter() - started) * 1000)
    print(f"Host started ({elapsed}ms); listening on http://{bind}:{bound}", flush=True)
    await stop.wait()
    logger.info("Stopping the host")
    left = await host.stop()
    unfinished = left + host.invoker.threads_busy
    if unfinished:
        logger.warning("Leaving %d unfinished invocation(s) behind", unfinished)
        logging.shutdown()
        sys.stdout.flush()
        # Threads stuck in user code would otherwise keep the interpreter from exiting.
        os._exit(0)
    logger.info("Host stopped")
    return 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.local_host",
        description="Serve an Azure Functions Python v2 app locally, without Core Tools.",
    )
    parser.add_argument("--app-dir", default=".", help="the app root (function_app.py, host.json)")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="default: $FUNCTIONS_PORT, else local.settings.json Host.LocalHttpPort, else 7071; "
        "0 picks a free port",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument(
        "--queue-lease",
        type=_lease_seconds,
        default=DEFAULT_LEASE_SECONDS,
        metavar="SECONDS",
        help="how long a queue message stays hidden while its function runs, renewed at half "
        "time: the local stand-in for the Functions host's fixed 10 minutes (default 600), "
        "shorter for tests that kill a host and want its messages back soon",
    )
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--access-log",
        type=Path,
        default=None,
        help="write each request's lines (access, invocation) to this file, not the console",
    )
    return parser.parse_args(argv)


def _lease_seconds(value: str) -> int:
    try:
        seconds = int(value)
    except ValueError:
        seconds = 0
    if not 2 <= seconds <= 7 * 24 * 3600:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds (2 to 604800)")
    return seconds


def _configure_logging(verbose: bool, access_log: Path | None = None) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format=LOG_FORMAT,
        stream=sys.stderr,
    )
    handlers = list(logging.getLogger().handlers)
    if access_log is not None:
        # One line or three per request would drown what matters (start-up, polls, errors).
        access_log.parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(access_log, encoding="utf-8")
        to_file.setFormatter(logging.Formatter(LOG_FORMAT))
        logs.ACCESS_LOGGER.addHandler(to_file)
        logs.ACCESS_LOGGER.propagate = False
        handlers.append(to_file)
    # No record reaches the log with a function key in it, whoever logged it.
    logs.install(*handlers)
    if not verbose:
        # The Azure SDK and httpx log every outgoing request at INFO, which drowns the
        # invocation log; --verbose brings them back.
        for name in ("azure.core.pipeline.policies.http_logging_policy", "httpx"):
            logging.getLogger(name).setLevel(logging.WARNING)


def _exit_quietly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    sys.exit(main())
