"""The web app in real Chromium (Debian's, driven by Playwright), served by `relais serve` with
the demo territory: sign-in from the invitation e-mail, search, fiche, edit seen in search, a 412
between two browsers, sign-out, keyboard only, JavaScript off, and axe-core (WCAG 2.1 A/AA) on
every page visited. Skipped without Chromium unless REQUIRE_BROWSER=1."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auth.helpers import PASSWORD, link_in, mails_to
from tests.conftest import free_port

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

pytestmark = pytest.mark.slow


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is required (REQUIRE_BROWSER=1): apt-get install chromium")
        pytest.skip("Chromium not installed (/usr/bin/chromium)")


def served_env(base: str) -> dict[str, str]:
    """The environment of a `relais serve` at ``base`` on the demo territory: this machine's
    variables without any Relais setting, plus the served address and quiet, job-free servers."""
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
        AUTH_SIGNING_KEY_ANNOUNCE_SECONDS="0",
    )
    return env


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, str]]:
    """`relais serve` with the demo territory and an administrator invited by e-mail."""
    _require_chromium()
    folder = tmp_path_factory.mktemp("web-browser")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = served_env(base)
    relais = str(Path(sys.executable).with_name("relais"))
    for command in (["migrate"], ["seed-demo"]):
        subprocess.run([relais, *command], cwd=folder, env=env, check=True, capture_output=True)
    structure = _first_structure(folder)
    email = "agente-ccas@ccas.example.org"
    subprocess.run(
        [relais, "create-admin", "--email", email, "--structure", structure],
        cwd=folder,
        env=env,
        check=True,
        capture_output=True,
    )
    process = subprocess.Popen(
        [relais, "serve", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 90
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
        yield base, folder, email
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _first_structure(folder: Path) -> str:
    """A published demo structure with published services (the embedded SQLite file)."""
    import sqlite3
    import uuid

    db = sqlite3.connect(folder / "var" / "directory.db")
    try:
        row = db.execute(
            "SELECT s.id FROM structures s JOIN services v ON v.structure_id = s.id "
            "WHERE s.status = 'published' AND v.status = 'published' ORDER BY s.name LIMIT 1"
        ).fetchone()
    finally:
        db.close()
    return str(uuid.UUID(str(row[0])))


@pytest.fixture(scope="module")
async def chromium() -> AsyncIterator[Any]:
    _require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield browser
        await browser.close()


async def axe_clean(page: Any) -> None:
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(
        page, options={"runOnly": {"type": "tag", "values": WCAG}, "resultTypes": ["violations"]}
    )
    violations = results.response["violations"]
    assert not violations, [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in violations]


async def _sign_in(page: Any, base: str, email: str, password: str = PASSWORD) -> None:
    await page.goto(f"{base}/connexion")
    await page.fill("#email", email)
    await page.fill("#password", password)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/")


async def test_the_staff_journey_in_chromium(served: tuple[str, Path, str], chromium: Any) -> None:
    base, folder, email = served
    context = await chromium.new_context(locale="fr-FR")
    page = await context.new_page()
    # Sign-in from the invitation e-mail to the home page.
    invitation = link_in(mails_to(folder / "var", email)[-1], "/auth/invitation")
    await page.goto(invitation)
    await page.fill("#name", "Agnès Martin")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.click("text=Se connecter à Relais")
    await page.fill("#email", email)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/")
    assert await page.is_visible("text=Bonjour Agnès Martin")
    await axe_clean(page)
    # Search by word + commune + radius (the URL holds it).
    await page.goto(f"{base}/annuaire")
    await page.fill("#q", "aide alimentaire")
    await page.fill("#commune", "Valence (26000)")
    await page.select_option("#rayon", "20")
    await page.click("text=Chercher")
    await page.wait_for_url(re.compile(r".*/annuaire\?.*rayon=20.*"))
    await page.wait_for_selector(".result")
    await axe_clean(page)
    # Reading a fiche.
    await page.click(".result h3 a")
    await page.wait_for_selector("text=Comment orienter ?")
    await axe_clean(page)
    # Ma structure, editing a service, the change found in search.
    await page.goto(f"{base}/ma-structure")
    await axe_clean(page)
    await page.click("table tbody th a")
    await page.wait_for_selector("#f-name")
    await axe_clean(page)
    edit_url = page.url
    new_name = f"Permanence solidaire {int(time.time())}"
    await page.fill("#f-referral_email", "pas-une-adresse")
    await page.click("text=Enregistrer")
    await page.wait_for_selector(".error-summary")
    await axe_clean(page)
    await page.fill("#f-referral_email", "")
    await page.fill("#f-name", new_name)
    await page.click("text=Enregistrer")
    await page.wait_for_selector("text=Modifications enregistrées.")
    await page.goto(f"{base}/annuaire?q={new_name.replace(' ', '+')}")
    assert new_name in await page.inner_text(".results")
    # A 412 between two browser contexts: the second sees what changed, keeps its text.
    other = await chromium.new_context(locale="fr-FR")
    second = await other.new_page()
    await _sign_in(second, base, email)
    await page.goto(edit_url)
    await second.goto(edit_url)
    await page.fill("#f-name", new_name + " (A)")
    await page.click("text=Enregistrer")
    await page.wait_for_selector("text=Modifications enregistrées.")
    await second.fill("#f-name", "Saisie de B")
    await second.click("text=Enregistrer")
    await second.wait_for_selector("text=Quelqu’un a modifié cette fiche")
    assert await second.input_value("#f-name") == "Saisie de B"
    assert new_name + " (A)" in await second.inner_text("#conflit")
    await axe_clean(second)
    await other.close()
    # Team, integrations and an error page pass axe too.
    for path in ("/equipe", "/integrations", "/services/00000000-0000-0000-0000-000000000000"):
        await page.goto(base + path)
        await axe_clean(page)
    # Sign-out.
    await page.goto(f"{base}/")
    await page.click("text=Se déconnecter")
    await page.wait_for_selector("text=Vous êtes déconnecté·e")
    await axe_clean(page)
    await page.goto(f"{base}/ma-structure")
    assert "/auth/authorize" in page.url
    assert await page.is_visible("#password")  # the sign-in ended at auth too
    await context.close()


async def test_keyboard_only_search_and_without_javascript(
    served: tuple[str, Path, str], chromium: Any
) -> None:
    base, _, _ = served
    context = await chromium.new_context(locale="fr-FR")
    page = await context.new_page()
    await page.goto(f"{base}/annuaire")
    await page.keyboard.press("Tab")  # skip link first
    assert await page.evaluate("document.activeElement.textContent") == "Aller au contenu"
    await page.keyboard.press("Enter")
    await page.focus("#q")
    await page.keyboard.type("écrivain public")
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r".*q=%C3%A9crivain.*"))
    await page.wait_for_selector(".result")
    await context.close()
    # JavaScript off: the same search is a plain GET form, results as a whole page.
    nojs = await chromium.new_context(locale="fr-FR", java_script_enabled=False)
    page = await nojs.new_page()
    await page.goto(f"{base}/annuaire")
    await page.fill("#q", "aide alimentaire")
    await page.fill("#commune", "26000")
    await page.click("text=Chercher")
    await page.wait_for_selector(".result")
    assert "q=aide+alimentaire" in page.url
    await nojs.close()
