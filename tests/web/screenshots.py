"""`make screenshots`: a full-page PNG of every page of the web app, at desktop and phone width,
under docs/screenshots/. `relais serve` runs on a temporary RELAIS_HOME with the demo territory;
the demo staff (`relais demo-accounts`: a CCAS worker and its administrator, a PIMMS mediator,
the network's moderator) sign in; six referrals are sent through the form so the orientation and
statistics pages have something to show. Chromium is Debian's (/usr/bin/chromium).

    python -m tests.web.screenshots [--port 8240] [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from services.demo_accounts import DEMO_PASSWORD, PERSONAS
from tests.web.test_browser import CHROMIUM, FLAGS, _sign_in, served_env
from tests.web.test_browser_orientations import PIMMS, _orient

# The demo territory's staff (`relais demo-accounts`): who orients, who administers the CCAS,
# who receives at the PIMMS, who looks after the network.
WORKER, ADMIN, RECEIVER, MODERATOR = (
    next(p.email for p in PERSONAS if p.name == name)
    for name in ("Camille Martin", "Sophie Girard", "Lucas Roux", "Équipe réseau Drôme")
)

# Readable pages, small files: a laptop and a common phone, both at a device scale of 1.
SIZES = {"bureau": {"width": 1280, "height": 800}, "telephone": {"width": 390, "height": 844}}


def serve_demo(
    folder: Path, port: int, prepare: Callable[[Path], None] | None = None
) -> subprocess.Popen[bytes]:
    """`relais serve` on ``folder`` with the demo territory and its staff; ``prepare`` is given
    the RELAIS_HOME (``folder/var``) before the server starts (a benchmark adds data there)."""
    base = f"http://127.0.0.1:{port}"
    env = served_env(base)
    relais = str(Path(sys.executable).with_name("relais"))
    for command in (["migrate"], ["seed-demo"], ["demo-accounts"]):
        subprocess.run([relais, *command], cwd=folder, env=env, check=True, capture_output=True)
    if prepare is not None:
        prepare(folder / "var")
    process = subprocess.Popen(
        [relais, "serve", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            raise RuntimeError("relais serve stopped")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("relais serve did not become ready")
        time.sleep(0.2)


async def _new_draft(page: Any, base: str) -> str:
    """An orientation begun in this browser (drafts belong to the session that began them)."""
    await page.goto(f"{base}/orienter")
    await page.click("button:has-text('Commencer')")
    return re.sub(r"/[a-z]+$", "", page.url.removeprefix(base))


async def _shoot(
    browser: Any, base: str, email: str | None, shots: list[tuple[str, str]], out: Path
) -> None:
    for size, viewport in SIZES.items():
        context = await browser.new_context(locale="fr-FR", viewport=viewport)
        page = await context.new_page()
        draft = ""
        if email is not None:
            await _sign_in(page, base, email, DEMO_PASSWORD)
        for name, path in shots:
            if "{draft}" in path and not draft:
                draft = await _new_draft(page, base)
            await page.goto(base + path.replace("{draft}", draft))
            await page.wait_for_load_state("networkidle")
            await page.screenshot(path=str(out / f"{name}-{size}.png"), full_page=True)
            if name == "recepisse" and size == "bureau":  # as printed for the person
                await page.emulate_media(media="print")
                await page.screenshot(path=str(out / "recepisse-impression.png"), full_page=True)
                await page.emulate_media(media="screen")
        await context.close()


async def _close_partner_part(browser: Any, base: str, referral: str) -> None:
    context = await browser.new_context(locale="fr-FR")
    page = await context.new_page()
    await _sign_in(page, base, RECEIVER, DEMO_PASSWORD)
    await page.goto(f"{base}{referral}")
    for button in ("Accepter l’orientation", "Confirmer la prise en charge"):
        async with page.expect_navigation():
            await page.click(f"button:has-text('{button}')")
    await page.click("summary:has-text('Clôturer l’orientation')")
    await page.select_option("#cloturer-issue", "solution_found")
    async with page.expect_navigation():
        await page.click("button:has-text('Clôturer l’orientation')")
    await context.close()


async def _run(base: str, folder: Path, out: Path) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        # French date fields (jj/mm/aaaa), as a French browser shows them.
        browser = await p.chromium.launch(
            executable_path=str(CHROMIUM), args=[*FLAGS, "--lang=fr-FR"]
        )
        context = await browser.new_context(locale="fr-FR")
        page = await context.new_page()
        await _sign_in(page, base, WORKER, DEMO_PASSWORD)
        referral = (await _orient(page, base, folder, PIMMS, "Exemple")).removeprefix(base)
        # Enough referrals for the statistics to publish numbers (below 5 they are hidden).
        others = [await _orient(page, base, folder, PIMMS, f"Exemple{n}") for n in range(5)]
        # A service fiche and an entry to edit, found from the pages themselves.
        await page.goto(f"{base}/annuaire?q=aide+alimentaire&commune=26000&rayon=20")
        fiche = await page.get_attribute(".result h3 a", "href")
        structure = await page.get_attribute("a[href^='/structures/']", "href")
        await context.close()
        context = await browser.new_context(locale="fr-FR")
        page = await context.new_page()
        await _sign_in(page, base, ADMIN, DEMO_PASSWORD)
        await page.goto(f"{base}/ma-structure")
        edit = await page.get_attribute("table tbody th a", "href")
        await context.close()

        anonymous = [
            ("annuaire-anonyme", "/annuaire?q=%C3%A9crivain+public"),
            ("a-propos", "/a-propos"),
            ("connexion", "/connexion"),
        ]
        await _shoot(browser, base, None, anonymous, out)
        await _shoot(
            browser,
            base,
            WORKER,
            [
                ("accueil", "/"),
                ("annuaire", "/annuaire?q=aide+alimentaire&commune=26000&rayon=20"),
                ("fiche-service", str(fiche)),
                ("fiche-structure", str(structure)),
                ("orienter", "/orienter"),
                ("orienter-personne", "{draft}/personne"),
                ("orienter-besoin", "{draft}/besoin"),
                ("orienter-consentement", "{draft}/consentement"),
                ("orientations-envoyees", "/orientations"),
                ("orientation-envoyee", referral),
                ("recepisse", f"{referral}/recepisse"),
                ("statistiques", "/statistiques"),
                ("mes-notifications", "/mes-notifications"),
                ("erreur-404", "/services/00000000-0000-0000-0000-000000000000"),
            ],
            out,
        )
        admin = [
            ("ma-structure", "/ma-structure"),
            ("ma-structure-modifier", str(edit)),
            ("equipe", "/equipe"),
            ("integrations", "/integrations"),
        ]
        await _shoot(browser, base, ADMIN, admin, out)
        received = [
            ("orientations-recues", "/orientations/recues"),
            ("orientation-recue", referral),
        ]
        await _shoot(browser, base, RECEIVER, received, out)
        # The partner takes one over and closes its part: the CCAS is asked to close its own.
        closing = others[0].removeprefix(base)
        await _close_partner_part(browser, base, closing)
        await _shoot(browser, base, WORKER, [("orientation-cloture-en-cours", closing)], out)
        await _shoot(browser, base, MODERATOR, [("statistiques-reseau", "/statistiques")], out)
        await browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8240")))
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print("Chromium is required: apt-get install chromium", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="relais-screenshots-") as home:
        folder = Path(home)
        process = serve_demo(folder, args.port)
        try:
            asyncio.run(_run(f"http://127.0.0.1:{args.port}", folder, args.out.resolve()))
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    pngs = sorted(args.out.glob("*.png"))
    # Palette PNGs are a third of the size and look the same for flat pages (if pngquant is here).
    if shutil.which("pngquant"):
        subprocess.run(
            [
                "pngquant",
                "--force",
                "--ext",
                ".png",
                "--skip-if-larger",
                "--quality",
                "70-95",
                *map(str, pngs),
            ],
            check=False,
        )
    print(f"{len(pngs)} screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
