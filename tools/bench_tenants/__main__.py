"""``python -m tools.bench_tenants``: see the package's docstring."""

from __future__ import annotations

import sys

from tools.bench_tenants.cli import main

if __name__ == "__main__":
    sys.exit(main())
