"""Write the Power Automate connector's definition from ``shared.http.openapi``.

    python -m tools.export_connector           # writes infra/connector/apiDefinition.swagger.json
    python -m tools.export_connector --check   # exits 1 if the committed file is out of date

The file is byte for byte what ``GET /api/openapi.json`` serves.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from shared.http.openapi.document import document_json

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DEFINITION = ROOT / "infra" / "connector" / "apiDefinition.swagger.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the committed file differs; write nothing"
    )
    parser.add_argument("--output", type=Path, default=DEFINITION, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    expected = document_json()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
        if current != expected:
            logger.error(
                "%s is out of date with the app: run python -m tools.export_connector",
                args.output,
            )
            return 1
        logger.info("%s is up to date.", args.output)
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(expected, encoding="utf-8")
    logger.info("Wrote %s.", args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
