"""Run every benchmark under bench/ (each prints ratios against a baseline of the same run)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    names = sys.argv[1:] or [
        m.name
        for m in pkgutil.iter_modules([str(Path(__file__).parent)])
        if not m.name.startswith("_")
    ]
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"== bench/{name}.py ==", flush=True)
        module.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
