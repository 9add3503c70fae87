"""Auth benchmark: JWT verification cost on a directory read, and client_credentials tokens/s.

Runs `relais serve` (embedded mode, all services) in a temporary folder on a free port and talks
to it over real HTTP. Prints ratios against a baseline measured in the same run:

* the same directory read without and with a bearer token (verified against the auth JWKS),
  requests interleaved in rounds so drift hits both sides alike — target: ≤ 10 % slower;
* the in-process cost of one verification (TokenVerifier.verify, keys cached);
* client_credentials tokens per second, sequential and with 8 concurrent clients.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from bench.common import free_port

ROUNDS = 20
PER_ROUND = 100
TOKEN_REQUESTS = 400
CONCURRENCY = 8


def _env(base: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RELAIS_", "DATABASE_", "JWT_", "AUTH_"))
    }
    env.update(
        RELAIS_BASE_URL=base, JWT_ISSUER=f"{base}/auth", LOG_LEVEL="WARNING", WORKER_ENABLED="0"
    )
    return env


def _relais() -> str:
    return str(Path(sys.executable).with_name("relais"))


def _timed_reads(http: httpx.Client, url: str, headers: dict[str, str]) -> list[float]:
    out = []
    for _ in range(PER_ROUND):
        started = time.perf_counter()
        response = http.get(url, headers=headers)
        out.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return out


async def _concurrent_tokens(base: str, client_id: str, secret: str) -> float:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        per_worker = TOKEN_REQUESTS // CONCURRENCY

        async def worker() -> None:
            for _ in range(per_worker):
                response = await http.post(
                    "/auth/token",
                    data={"grant_type": "client_credentials"},
                    auth=(client_id, secret),
                )
                assert response.status_code == 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return per_worker * CONCURRENCY / (time.perf_counter() - started)


def _verify_cost(token: str, jwks: dict[str, object], issuer: str) -> float:
    from services.kernel.security import KeyProvider, TokenVerifier

    verifier = TokenVerifier(KeyProvider(jwks=jwks), issuer=issuer, audience="relais", leeway=30)

    async def run() -> float:
        await verifier.verify(token)
        started = time.perf_counter()
        for _ in range(2000):
            await verifier.verify(token)
        return (time.perf_counter() - started) / 2000

    return asyncio.run(run())


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="relais-bench-auth-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = _env(base)
    server = subprocess.Popen(
        [_relais(), "serve", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("relais serve did not start")
            time.sleep(0.2)
        created = subprocess.run(
            [
                _relais(),
                "create-client",
                "--structure",
                str(uuid.uuid4()),
                "--scopes",
                "directory:read",
            ],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        client = json.loads(created.stdout.strip().splitlines()[-1])
        client_id, secret = client["client_id"], client["client_secret"]

        with httpx.Client(base_url=base, timeout=30) as http:
            token = http.post(
                "/auth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
            ).json()["access_token"]
            url = "/directory/v1/structures?limit=20"
            with_token = {"Authorization": f"Bearer {token}"}
            _timed_reads(http, url, with_token)  # warm up (JWKS fetch, caches)
            _timed_reads(http, url, {})
            anonymous: list[float] = []
            bearer: list[float] = []
            for _ in range(ROUNDS):
                anonymous += _timed_reads(http, url, {})
                bearer += _timed_reads(http, url, with_token)
            jwks = http.get("/auth/.well-known/jwks.json").json()

            started = time.perf_counter()
            for _ in range(TOKEN_REQUESTS // 2):
                response = http.post(
                    "/auth/token",
                    data={"grant_type": "client_credentials"},
                    auth=(client_id, secret),
                )
                assert response.status_code == 200
            sequential = (TOKEN_REQUESTS // 2) / (time.perf_counter() - started)
        concurrent = asyncio.run(_concurrent_tokens(base, client_id, secret))
        verify = _verify_cost(token, jwks, f"{base}/auth")

        a_med, b_med = statistics.median(anonymous), statistics.median(bearer)
        a_mean, b_mean = statistics.fmean(anonymous), statistics.fmean(bearer)
        print(f"directory read {url} ({len(anonymous)} requests each, interleaved)")
        print(f"  without token: median {a_med * 1000:.2f} ms, mean {a_mean * 1000:.2f} ms")
        print(f"  with token:    median {b_med * 1000:.2f} ms, mean {b_mean * 1000:.2f} ms")
        print(
            f"  ratio with/without: median {b_med / a_med:.3f}, mean {b_mean / a_mean:.3f} "
            f"(target <= 1.10)"
        )
        print(
            f"  TokenVerifier.verify alone: {verify * 1e6:.0f} µs per token "
            f"({verify / a_med * 100:.1f} % of an anonymous read)"
        )
        print(
            f"client_credentials: {sequential:.0f} tokens/s sequential, "
            f"{concurrent:.0f} tokens/s with {CONCURRENCY} concurrent clients "
            f"(ratio {concurrent / sequential:.2f})"
        )
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
