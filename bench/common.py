"""Small pieces every benchmark uses: a free localhost port, waiting for a server, a quantile,
the CPU time of a process tree."""

from __future__ import annotations

import math
import os
import socket
import time
from pathlib import Path

# "8210-8219": servers started by a benchmark take their ports from this range only (a shared
# machine); each port is handed out once per run.
PORT_RANGE = os.environ.get("BENCH_PORTS", "")
_handed_out: set[int] = set()


def free_port() -> int:
    """A localhost port nothing listens on (bound then released)."""
    if PORT_RANGE:
        low, _, high = PORT_RANGE.partition("-")
        for port in range(int(low), int(high or low) + 1):
            if port in _handed_out:
                continue
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _handed_out.add(port)
            return port
        raise RuntimeError(f"no free port left in BENCH_PORTS={PORT_RANGE}")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def quantile(values: list[float], q: float) -> float:
    """The q-quantile by nearest rank (NaN for no values)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def wait_ready(port: int, path: str, timeout: float = 90.0) -> None:
    """Block until ``GET path`` on the local port answers 200 (a server subprocess starting)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                conn.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                if conn.recv(12).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server on port {port} did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to report CPU per request."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """A server process and its descendants (uvicorn's worker processes)."""
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            pids += process_tree(int(child))
    return pids


async def backend_cpu(url: str, application_prefix: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend whose ``application_name`` starts with the
    prefix (PostgreSQL on this machine: its processes are read in /proc)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE starts_with(application_name, $1)",
            application_prefix,
        )
    finally:
        await conn.close()
    found = {int(row["pid"]): cpu_seconds(int(row["pid"])) for row in rows}
    return {pid: value for pid, value in found.items() if not math.isnan(value)}


def cpu_since(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU the backends used between two readings (one opened in between counts whole)."""
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())
