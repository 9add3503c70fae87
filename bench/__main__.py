"""Run benchmarks under bench/ (each prints ratios against a baseline of the same run).

``python -m bench`` runs them all, ``python -m bench search referrals`` the ones named,
``python -m bench --help`` lists them with what each measures and the variables that size it.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import sys
from pathlib import Path

HERE = Path(__file__).parent
# Modules that serve the benchmarks rather than being one.
HELPERS = {"client", "common", "search_floor"}


def bench_names() -> list[str]:
    return [
        m.name
        for m in pkgutil.iter_modules([str(HERE)])
        if not m.name.startswith("_") and m.name not in HELPERS
    ]


def describe(name: str) -> str:
    """The module's docstring summary and the BENCH_* variables it reads (without importing)."""
    source = (HERE / f"{name}.py").read_text(encoding="utf-8")
    doc = ast.get_docstring(ast.parse(source)) or ""
    summary = " ".join(doc.split("\n\n")[0].split())
    variables = sorted(set(re.findall(r"\b(BENCH_[A-Z_]+)\b", source)))
    lines = [f"  {name:10} {summary}"]
    if variables:
        lines.append(f"  {'':10} variables: {', '.join(variables)}")
    return "\n".join(lines)


def main() -> int:
    args = sys.argv[1:]
    if args and args[0] in ("-h", "--help"):
        print(__doc__.strip() if __doc__ else "")
        print("\nbenchmarks (each module's docstring says how it runs and what it needs):")
        for name in bench_names():
            print(describe(name))
        return 0
    for name in args or bench_names():
        module = importlib.import_module(f"bench.{name}")
        print(f"== bench/{name}.py ==", flush=True)
        module.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
