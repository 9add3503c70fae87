"""End to end: `relais serve` (all services) over real HTTP, tokens issued by auth.

A client obtains a token with client_credentials, writes a directory service for its structure,
and is refused on another structure's service. A staff moderator logs in through the auth pages
(authorization code + PKCE) to create the two structures first.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from services.auth.crypto import hash_password
from services.auth.models import Account
from services.auth.store import clients
from services.kernel.db import Database
from services.kernel.settings import load_settings
from tests.auth.helpers import REDIRECT_URI, authorize_params, hidden_fields, pkce, unescape
from tests.conftest import free_port
from tests.directory.helpers import service_body, structure_body

PASSWORD = "une phrase de passe assez longue"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`relais serve` in embedded mode, in a fresh folder, on a free port."""
    folder = tmp_path_factory.mktemp("e2e-auth")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RELAIS_", "DATABASE_", "JWT_", "AUTH_", "DIRECTORY_", "REFERRALS_"))
    }
    env.update(
        RELAIS_BASE_URL=base,
        JWT_ISSUER=f"{base}/auth",
        LOG_LEVEL="WARNING",
        WORKER_ENABLED="false",
    )
    relais = Path(sys.executable).with_name("relais")
    process = subprocess.Popen(
        [str(relais), "serve", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read().decode() if process.stderr else "exit")
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("relais serve did not become ready")
            time.sleep(0.2)
        yield base, folder
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


async def _setup(folder: Path, base: str) -> tuple[str, str]:
    """A moderator account and a staff application, written in the served auth database."""
    settings = load_settings(environ={}, home=folder / "var", base_url=base)
    db = Database(settings, "auth")
    try:
        async with db.session() as session:
            account = Account(
                email=f"moderation-{os.getpid()}@reseau.example.org",
                name="Modération",
                password_hash=hash_password(PASSWORD),
                status="active",
                email_verified=True,
                is_moderator=True,
            )
            session.add(account)
            app, _ = await clients.create_client(
                session,
                name="Application des agents",
                structure_id=None,
                scopes=["openid"],
                grant_types=["authorization_code"],
                redirect_uris=[REDIRECT_URI],
                public=True,
            )
            return account.email, app.client_id
    finally:
        await db.dispose()


async def _moderator_token(http: httpx.AsyncClient, email: str, app_id: str) -> str:
    verifier, challenge = pkce()
    params = authorize_params(app_id, challenge, scope="openid")
    page = await http.get("/auth/authorize", params=params)
    fields = {k: unescape(v) for k, v in hidden_fields(page.text).items()}
    logged = await http.post("/auth/login", data={**fields, "email": email, "password": PASSWORD})
    assert logged.status_code == 303, logged.text
    consent = await http.get(logged.headers["location"])
    fields = {k: unescape(v) for k, v in hidden_fields(consent.text).items()}
    structure = re.search(r'name="structure_id" value="([^"]*)"', consent.text)
    assert structure is not None
    decided = await http.post(
        "/auth/authorize",
        data={**fields, "structure_id": structure.group(1), "decision": "allow"},
    )
    assert decided.status_code == 302, decided.text
    code = parse_qs(urlsplit(decided.headers["location"]).query)["code"][0]
    token = await http.post(
        "/auth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": app_id,
            "code_verifier": verifier,
        },
    )
    assert token.status_code == 200, token.text
    access: str = token.json()["access_token"]
    return access


def _cli_client(folder: Path, structure_id: str) -> dict[str, Any]:
    relais = Path(sys.executable).with_name("relais")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAIS_", "DATABASE_"))}
    result = subprocess.run(
        [
            str(relais),
            "create-client",
            "--structure",
            structure_id,
            "--scopes",
            "directory:read directory:write",
        ],
        cwd=folder,
        env={**env, "LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        check=True,
    )
    import json

    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


async def test_client_writes_its_structure_and_is_refused_on_another(
    served: tuple[str, Path],
) -> None:
    base, folder = served
    email, app_id = await _setup(folder, base)
    async with httpx.AsyncClient(base_url=base, timeout=20) as http:
        moderator = {"Authorization": f"Bearer {await _moderator_token(http, email, app_id)}"}
        structures = []
        for _ in range(2):
            created = await http.post(
                "/directory/v1/structures", json=structure_body(), headers=moderator
            )
            assert created.status_code == 201, created.text
            structures.append(created.json()["id"])
        mine, theirs = structures
        # A service of the other structure, created by the moderator.
        other_service = await http.post(
            "/directory/v1/services", json=service_body(theirs), headers=moderator
        )
        assert other_service.status_code == 201, other_service.text

        client = await asyncio.to_thread(_cli_client, folder, mine)
        token = await http.post(
            "/auth/token",
            data={"grant_type": "client_credentials"},
            auth=(client["client_id"], client["client_secret"]),
        )
        assert token.status_code == 200, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

        written = await http.post(
            "/directory/v1/services", json=service_body(mine), headers=headers
        )
        assert written.status_code == 201, written.text
        assert written.json()["structure_id"] == mine

        refused_create = await http.post(
            "/directory/v1/services", json=service_body(theirs), headers=headers
        )
        assert refused_create.status_code in (403, 422), refused_create.text
        assert refused_create.headers["content-type"].startswith("application/problem+json")
        refused_patch = await http.patch(
            f"/directory/v1/services/{other_service.json()['id']}",
            json={"description": "Modifié par un autre"},
            headers={**headers, "If-Match": other_service.headers["etag"]},
        )
        assert refused_patch.status_code == 403, refused_patch.text
        assert refused_patch.headers["content-type"].startswith("application/problem+json")
        unchanged = await http.get(f"/directory/v1/services/{other_service.json()['id']}")
        assert unchanged.json()["description"] == other_service.json()["description"]
        # Without a token, or with a forged one, writes fail closed.
        anonymous = await http.post("/directory/v1/services", json=service_body(mine))
        assert anonymous.status_code == 401
        forged = await http.post(
            "/directory/v1/services",
            json=service_body(mine),
            headers={"Authorization": "Bearer " + token.json()["access_token"][:-4] + "AAAA"},
        )
        assert forged.status_code == 401
