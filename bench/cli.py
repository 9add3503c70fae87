"""Command-line benchmark: how long an operator waits for ``relais --help``, ``relais
create-client`` and ``relais create-admin``, against the interpreter's own start-up measured in
the same run.

Each command runs ``BENCH_CLI_RUNS`` times (default 10) as a fresh process, the cases taken in
turn so that a busy machine slows them alike; the median wall time of each is printed, with its
ratio to two floors: ``python -c pass`` (the interpreter alone) and ``python -c "import
sqlalchemy.ext.asyncio, aiosqlite"`` (the least a command that writes one row through the async
SQL toolkit must load). ``create-client`` and ``create-admin`` (which also writes the invitation
mail, to a file) work in an embedded (SQLite) home migrated once before the timing.

Python reads compiled bytecode when it finds it: without it (a fresh checkout under
``PYTHONDONTWRITEBYTECODE=1``, as in some containers and CI) every run compiles every module it
imports again, which costs more than the imports themselves. The output says which case this
run was in; ``make install`` and the container image compile the bytecode once.

Run: ``.venv/bin/python -m bench cli``. Target: each command under 1.5 s.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

RUNS = int(os.environ.get("BENCH_CLI_RUNS", "10"))
TARGET_SECONDS = 1.5


def _relais() -> str:
    return str(Path(sys.executable).with_name("relais"))


def _env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RELAIS_", "DATABASE_", "JWT_", "AUTH_", "MEILI_"))
    }
    env.update(RELAIS_HOME=str(home), LOG_LEVEL="WARNING")
    return env


def _wall(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def _bytecode_state() -> str:
    spec = importlib.util.find_spec("sqlalchemy")
    compiled = bool(
        spec and spec.origin and Path(importlib.util.cache_from_source(spec.origin)).exists()
    )
    writes = "not written" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "written on import"
    state = "compiled" if compiled else "NOT compiled"
    return f"libraries' bytecode {state}; new bytecode {writes}"


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="relais-bench-cli-"))
    env = _env(home)
    structure = str(uuid.uuid4())
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "import sqlalchemy": [sys.executable, "-c", "import sqlalchemy"],
        "import sqlalchemy.ext.asyncio, aiosqlite": [
            sys.executable,
            "-c",
            "import sqlalchemy.ext.asyncio, aiosqlite",
        ],
        "relais --help": [_relais(), "--help"],
        "relais create-client": [
            _relais(),
            "create-client",
            "--structure",
            structure,
            "--scopes",
            "directory:read",
        ],
        "relais create-admin": [
            _relais(),
            "create-admin",
            "--email",
            "admin@bench.example.org",
            "--structure",
            structure,
        ],
    }
    try:
        subprocess.run(
            [_relais(), "migrate", "auth"], env=env, cwd=home, check=True, capture_output=True
        )
        print(f"{RUNS} runs of each, in turn; {_bytecode_state()}", flush=True)
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(RUNS):
            for name, command in cases.items():
                times[name].append(_wall(command, env, home))
        medians = {name: statistics.median(values) for name, values in times.items()}
        bare = medians["python -c pass"]
        floor = medians["import sqlalchemy.ext.asyncio, aiosqlite"]
        for name, value in medians.items():
            spread = max(times[name]) - min(times[name])
            print(
                f"  {name:42} median {value * 1000:7.0f} ms (spread {spread * 1000:5.0f} ms)"
                f"  ×{value / bare:6.1f} python -c pass, ×{value / floor:5.2f} async SQL floor"
            )
        for name in ("relais --help", "relais create-client", "relais create-admin"):
            verdict = "under" if medians[name] < TARGET_SECONDS else "OVER"
            print(f"  {name}: {verdict} the {TARGET_SECONDS} s target")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
