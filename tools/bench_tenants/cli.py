"""The command line: the arguments, the run, the report."""

from __future__ import annotations

import argparse
import signal
from types import FrameType

import tools.bench_tenants as package
from tools.bench_common import run_bench
from tools.bench_tenants.driver import bench
from tools.bench_tenants.report import report_details, report_rounds, report_targets


def worker_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1 or len(set(counts)) != len(counts):
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of worker counts such as 1,2,4")
    return counts


def parse_args(argv: list[str] | None) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench_tenants",
        description=package.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tenants", type=int, default=1000, help="child tenants polled")
    parser.add_argument("--items", type=int, default=200, help="SDS profiles per tenant")
    parser.add_argument("--latency-ms", type=float, default=40.0, help="per Graph answer")
    parser.add_argument(
        "--workers", type=worker_counts, default=[1, 2, 4], help="fan-out worker processes"
    )
    parser.add_argument(
        "--log-share",
        type=float,
        default=0.5,
        help="share of the tenants with a provisioning job whose logs are read (0 to 1)",
    )
    parser.add_argument("--skip-baseline", action="store_true", help="the fan-out only")
    parser.add_argument(
        "--round-timeout", type=float, default=1800.0, help="seconds a round may take"
    )
    args = parser.parse_args(argv)
    if args.tenants < 1 or args.items < 0 or args.latency_ms < 0:
        parser.error("--tenants must be >= 1, --items and --latency-ms >= 0")
    if not 0 <= args.log_share <= 1:
        parser.error("--log-share must be 0 to 1")
    return parser, args


def _stop(signum: int, frame: FrameType | None) -> None:
    """SIGTERM as Ctrl-C: the stack's ``finally`` blocks stop every child process."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser, args = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)
    try:
        configs = run_bench(parser, lambda: bench(args))
    except KeyboardInterrupt:
        print("Interrupted: every child process was stopped.", flush=True)
        return 130
    report_rounds(configs, args)
    report_details(configs)
    report_targets(configs, args)
    return 0
