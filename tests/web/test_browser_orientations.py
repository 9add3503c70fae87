"""Orientations in real Chromium: the whole relay with three staff of three structures in three
browser contexts (a CCAS orients a person to a CMS through the form, the CMS acknowledges and
relays to the PIMMS, which accepts and takes over; the CCAS reads « prise en charge par … » and
closes with an evaluation; a second referral's consent is withdrawn and the person disappears
from the three views), each side of each transition, the header's badge updating without a
reload, the main actions with the keyboard only and with JavaScript off, and axe-core (WCAG 2.1
A/AA) on every page and state. Skipped without Chromium unless REQUIRE_BROWSER=1."""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from services.auth.crypto import hash_password
from services.auth.models import Account
from services.auth.store import accounts
from services.kernel.db import Database
from services.kernel.settings import Settings
from services.referrals.models import Handoff
from tests.auth.helpers import PASSWORD
from tests.web.test_browser import _sign_in, axe_clean, chromium, served

__all__ = ["chromium", "served"]  # module-scoped fixtures of the browser tests, used here

pytestmark = pytest.mark.slow
CCAS, CMS, PIMMS = (
    "CCAS de Valence",
    "Centre médico-social de Valence Nord",
    "PIMMS Médiation Drôme",
)
REFERRAL_URL = re.compile(r".*/orientations/[0-9a-f-]{36}$")


@pytest.fixture(scope="module", autouse=True)
def _badge_polls_fast() -> Iterator[None]:
    """Set before `served` starts the server (autouse fixtures of a scope come first)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WEB_INBOX_POLL_SECONDS", "1")
        yield


@dataclass(frozen=True)
class Agent:
    email: str
    structure: str
    structure_id: uuid.UUID


def _structure(folder: Path, name: str) -> tuple[uuid.UUID, str, str]:
    """The structure and its first published service taking referrals: (id, service, name)."""
    db = sqlite3.connect(folder / "var" / "directory.db")
    try:
        row = db.execute(
            "SELECT s.id, v.id, v.name FROM structures s JOIN services v ON v.structure_id = s.id "
            "WHERE s.name = ? AND v.status = 'published' AND v.accepts_referrals "
            "AND v.capacity_status != 'full' ORDER BY v.name LIMIT 1",
            (name,),
        ).fetchone()
    finally:
        db.close()
    assert row, name
    return uuid.UUID(str(row[0])), str(uuid.UUID(str(row[1]))), str(row[2])


async def _database(folder: Path, service: str) -> Database:
    """The served process's SQLite database of ``service`` (embedded mode, its RELAIS_HOME)."""
    return Database(Settings(home=folder / "var"), service)


async def _new_agent(folder: Path, structure: str, role: str = "admin") -> Agent:
    structure_id, _, _ = _structure(folder, structure)
    email = f"agent-{uuid.uuid4().hex[:8]}@relais.example.org"
    db = await _database(folder, "auth")
    try:
        async with db.session() as session:
            account = Account(
                email=email,
                name=f"Agent {structure}",
                password_hash=hash_password(PASSWORD),
                status="active",
                email_verified=True,
            )
            session.add(account)
            await session.flush()
            await accounts.add_membership(session, account.id, structure_id, role)
    finally:
        await db.dispose()
    return Agent(email, structure, structure_id)


@pytest.fixture(scope="module")
async def staff(served: tuple[str, Path, str]) -> dict[str, Agent]:
    _, folder, _ = served
    return {name: await _new_agent(folder, name) for name in (CCAS, CMS, PIMMS)}


async def _open(chromium: Any, base: str, agent: Agent, **options: Any) -> tuple[Any, Any]:
    context = await chromium.new_context(locale="fr-FR", **options)
    page = await context.new_page()
    await _sign_in(page, base, agent.email)
    return context, page


async def _orient(page: Any, base: str, folder: Path, to: str, last_name: str) -> str:
    """Through « Orienter une personne », from the receiver's fiche, with consent to relay and
    to share with further partners; returns the referral's page."""
    _, service_id, _ = _structure(folder, to)
    await page.goto(f"{base}/services/{service_id}")
    await page.click("text=Orienter une personne vers ce service")
    await page.click("button:has-text('Commencer')")
    await page.fill("#f-first_name", "Odette")
    await page.fill("#f-last_name", last_name)
    await page.check("#f-contact_method-1")
    await page.fill("#f-phone", "06 11 22 33 44")
    await page.click(".actions button:has-text('Continuer')")
    await page.wait_for_url(re.compile(r".*/besoin$"))
    await page.check("#f-channel-1")
    await page.fill("#f-summary", "Dossier de surendettement à constituer.")
    await page.click(".actions button:has-text('Continuer')")
    await page.wait_for_url(re.compile(r".*/consentement$"))
    await page.fill("#f-purpose", "Constituer son dossier et l’accompagner")
    for category in ("identity", "contact", "situation"):
        await page.check(f"#f-cat-{category}")
    await page.check("#f-onward_relay_allowed")
    await page.check("#f-further_partners")
    await page.click(".actions button:has-text('Continuer')")
    await page.wait_for_url(re.compile(r".*/documents$"))
    await page.click("button:has-text('Continuer sans document')")
    await page.wait_for_url(re.compile(r".*/verification$"))
    await page.click("button:has-text('Envoyer l’orientation')")
    await page.wait_for_url(REFERRAL_URL)
    return str(page.url)


BADGE = "parseInt(document.querySelector('#badge-recues .nav-badge')?.textContent || '0')"


async def _badge(page: Any) -> int:
    count: int = await page.evaluate(BADGE)
    return count


async def _act(page: Any, button: str) -> None:
    """Press a button of the referral page and wait for the page it leads to."""
    async with page.expect_navigation():
        await page.click(f"button:has-text('{button}')")


async def _relay(page: Any, url: str, folder: Path, to: str, *, axe: bool = True) -> None:
    """Relay through the annuaire (axe-core needs JavaScript: off, the pages are not checked
    again here, the same pages were with it on)."""
    _, _, service_name = _structure(folder, to)
    await page.goto(url)
    await page.click("text=Relayer vers un autre partenaire")
    await page.fill("#q", service_name)
    await page.click("button:has-text('Chercher')")
    await page.wait_for_selector(".result")
    if axe:
        await axe_clean(page)
    await page.click(f".result:has(p.meta:has-text('{to}')) >> a:has-text('Choisir ce service')")
    await page.wait_for_selector("text=Vous allez relayer la personne à")
    if axe:
        await axe_clean(page)
    await page.fill("#commentaire", "Relais vers la médiation")
    await _act(page, f"Relayer à {to}")
    await page.wait_for_selector("text=Orientation relayée")


async def test_the_whole_relay_in_three_browsers(
    served: tuple[str, Path, str], chromium: Any, staff: dict[str, Agent]
) -> None:
    base, folder, _ = served
    (ccas_ctx, ccas), (cms_ctx, cms), (pimms_ctx, pimms) = [
        await _open(chromium, base, staff[name]) for name in (CCAS, CMS, PIMMS)
    ]
    # The CCAS orients the person to the CMS, with consent for onward relay; the CMS's page,
    # left open, counts it in its header without a reload.
    await cms.goto(f"{base}/annuaire")
    before = await _badge(cms)
    url = await _orient(ccas, base, folder, CMS, "Relaistest")
    assert "Transmise à" in await ccas.inner_text(".lede")
    await axe_clean(ccas)
    await cms.wait_for_function(f"() => ({BADGE}) > {before}", timeout=15_000)
    assert cms.url == f"{base}/annuaire"

    # Its inbox lists it among the new ones.
    await cms.goto(f"{base}/orientations/recues")
    await axe_clean(cms)
    await cms.click(f"section[aria-labelledby=nouvelles] a[href='{url.removeprefix(base)}']")
    await cms.wait_for_url(url)
    assert "Relaistest" in await cms.inner_text("main")
    await axe_clean(cms)
    await _act(cms, "Accuser réception")
    await cms.wait_for_selector("text=Accusé de réception enregistré")
    await axe_clean(cms)
    await _relay(cms, url, folder, PIMMS)
    await axe_clean(cms)

    # The PIMMS accepts, then takes the person over.
    await pimms.goto(f"{base}/orientations/recues")
    await pimms.click(f"a[href='{url.removeprefix(base)}']")
    await pimms.wait_for_url(url)
    assert "Relaistest" in await pimms.inner_text("main")  # further partners covered
    await axe_clean(pimms)
    await _act(pimms, "Accepter l’orientation")
    await axe_clean(pimms)
    await _act(pimms, "Confirmer la prise en charge")
    await pimms.wait_for_selector("text=Prise en charge confirmée")
    await axe_clean(pimms)

    # The CCAS reads the journey in words and closes with an evaluation.
    await ccas.goto(url)
    lede = await ccas.inner_text(".lede")
    assert f"Transmise à {CMS}" in lede
    assert f"relayée à {PIMMS}" in lede
    assert f"prise en charge par {PIMMS}" in lede
    await axe_clean(ccas)
    await ccas.click("summary:has-text('Clôturer l’orientation')")
    await axe_clean(ccas)
    await ccas.select_option("#cloturer-issue", "solution_found")
    await ccas.check("#cloturer-note-5")
    await ccas.fill("#cloturer-commentaire", "Accompagnement rapide")
    await _act(ccas, "Clôturer l’orientation")
    await ccas.wait_for_selector("text=Évaluation : 5 sur 5")
    await axe_clean(ccas)
    # The PIMMS closes its own part: the referral ends.
    await pimms.goto(url)
    await pimms.click("summary:has-text('Clôturer votre part de l’orientation')")
    await pimms.select_option("#cloturer-issue", "solution_found")
    await _act(pimms, "Clôturer votre part")
    await pimms.wait_for_selector("text=Votre part de l’orientation est clôturée")
    assert "Clôturée" in await pimms.inner_text(".lede")
    await axe_clean(pimms)
    await ccas.goto(f"{base}/orientations")
    await axe_clean(ccas)

    # A second referral, relayed the same way; then the person withdraws consent.
    second = await _orient(ccas, base, folder, CMS, "Retraittest")
    await cms.goto(second)
    await _act(cms, "Accuser réception")
    await _relay(cms, second, folder, PIMMS)
    for page in (ccas, cms, pimms):
        await page.goto(second)
        assert "Retraittest" in await page.inner_text("main")
    await ccas.click("text=Enregistrer le retrait du consentement de la personne")
    await ccas.wait_for_selector("text=Ce qui sera effacé")
    assert PIMMS in await ccas.inner_text("main")
    await axe_clean(ccas)
    await _act(ccas, "Confirmer le retrait et effacer les données")
    await ccas.wait_for_selector("text=Retrait du consentement enregistré")
    for page in (ccas, cms, pimms):
        await page.goto(second)
        text = await page.inner_text("main")
        assert "Retraittest" not in text
        assert "Dossier de surendettement" not in text
        assert "ses données personnelles ont été effacées" in text
        await axe_clean(page)
    for context in (ccas_ctx, cms_ctx, pimms_ctx):
        await context.close()


def _referral_id(url: str) -> uuid.UUID:
    return uuid.UUID(url.rsplit("/", 1)[-1])


async def _overdue(folder: Path, url: str) -> None:
    """The handoff's deadline passed (the served worker is off: no expiry, only lateness)."""
    db = await _database(folder, "referrals")
    try:
        async with db.session() as session:
            await session.execute(
                sa.update(Handoff)
                .where(Handoff.referral_id == _referral_id(url))
                .values(respond_by=datetime.now(UTC) - timedelta(days=2))
            )
    finally:
        await db.dispose()


async def test_each_side_of_refusal_reorientation_cancellation_and_conflict(
    served: tuple[str, Path, str], chromium: Any, staff: dict[str, Agent]
) -> None:
    base, folder, _ = served
    (ccas_ctx, ccas), (cms_ctx, cms), (pimms_ctx, pimms) = [
        await _open(chromium, base, staff[name]) for name in (CCAS, CMS, PIMMS)
    ]
    # Refusal — the receiver: reason and comment are both required (the error state too).
    url = await _orient(ccas, base, folder, CMS, "Refustest")
    await cms.goto(url)
    await cms.click("summary:has-text('Refuser l’orientation')")
    await cms.select_option("#refuser-motif", "no_capacity")
    await cms.fill("#refuser-commentaire", "   ")  # passes the browser's check, not the API's
    await _act(cms, "Refuser l’orientation")
    await cms.wait_for_selector("#refuser-commentaire-error")
    await axe_clean(cms)
    await cms.fill("#refuser-commentaire", "Plus de place avant juin")
    await _act(cms, "Refuser l’orientation")
    await cms.wait_for_selector("text=Refus enregistré")
    assert await cms.locator("#que-faire").count() == 1  # consent withdrawal still possible
    await axe_clean(cms)
    # The sender: the refusal in words, and a re-orientation through the annuaire.
    await ccas.goto(url)
    main = await ccas.inner_text("main")
    assert "refusée (plus de place disponible)" in main
    assert "Plus de place avant juin" in main
    await axe_clean(ccas)
    _, _, pimms_service = _structure(folder, PIMMS)
    await ccas.click("text=Réorienter vers un autre partenaire")
    await ccas.fill("#q", pimms_service)
    await ccas.click("button:has-text('Chercher')")
    await ccas.click(f".result:has(p.meta:has-text('{PIMMS}')) >> a:has-text('Choisir ce service')")
    await ccas.wait_for_selector("text=Vous allez orienter la personne vers")
    await axe_clean(ccas)
    await _act(ccas, f"Envoyer à {PIMMS}")
    await ccas.wait_for_selector("text=Orientation envoyée au nouveau partenaire")
    # Cancellation — the sender withdraws the new handoff; the receiver sees it stopped.
    await ccas.click(f"summary:has-text('Annuler la transmission à {PIMMS}')")
    await axe_clean(ccas)
    await ccas.select_option("select[name=motif]", "solved_elsewhere")
    await _act(ccas, "Annuler la transmission")
    await ccas.wait_for_selector("text=Transmission annulée")
    await pimms.goto(url)
    assert "annulée (besoin résolu ailleurs)" in await pimms.inner_text(".lede")
    assert await pimms.locator("button:has-text('Accepter l’orientation')").count() == 0
    assert "Refustest" not in await pimms.inner_text("main")  # no longer holds the person
    await axe_clean(pimms)

    # Acceptance seen by the sender; two CMS agents answer at once: the late one gets the new
    # state and a message, not an error page.
    url = await _orient(ccas, base, folder, CMS, "Conflittest")
    other_ctx, other = await _open(chromium, base, staff[CMS])
    await cms.goto(url)
    await other.goto(url)
    await _act(cms, "Accepter l’orientation")
    await ccas.goto(url)
    assert re.search(f"Transmise à {CMS} le .*, acceptée le", await ccas.inner_text(".lede"))
    await other.click("summary:has-text('Refuser l’orientation')")
    await other.select_option("#refuser-motif", "other")
    await other.fill("#refuser-commentaire", "Réponse tardive")
    await _act(other, "Refuser l’orientation")
    await other.wait_for_selector("#conflit")
    assert "Quelqu’un a agi sur cette orientation avant vous" in await other.inner_text("#conflit")
    assert await other.is_visible("button:has-text('Confirmer la prise en charge')")
    await axe_clean(other)
    await other_ctx.close()
    # Takeover then closing by the receiver; the sender reads it closed.
    await _act(cms, "Confirmer la prise en charge")
    await cms.click("summary:has-text('Clôturer l’orientation')")
    await cms.select_option("#cloturer-issue", "partial")
    await _act(cms, "Clôturer l’orientation")
    await cms.wait_for_selector("text=Votre part de l’orientation est clôturée")
    await ccas.goto(url)
    assert "Prise en charge, clôture en cours" in await ccas.inner_text(".lede")
    await ccas.click("summary:has-text('Clôturer votre part de l’orientation')")
    await ccas.select_option("#cloturer-issue", "solution_found")
    await _act(ccas, "Clôturer votre part")
    assert "Clôturée" in await ccas.inner_text(".lede")
    await axe_clean(ccas)

    # Late: the receiver's inbox and the sender's list say so, with the deadline.
    url = await _orient(ccas, base, folder, CMS, "Retardtest")
    await _overdue(folder, url)
    await cms.goto(f"{base}/orientations/recues")
    late = cms.locator(
        f"section[aria-labelledby=en-retard] tr:has(a[href='{url.removeprefix(base)}'])"
    )
    assert "En retard depuis le" in await late.inner_text()
    await axe_clean(cms)
    await ccas.goto(f"{base}/orientations?retard=1&moi=1")
    assert url.removeprefix(base) in await ccas.content()
    await axe_clean(ccas)
    await ccas.goto(f"{base}/orientations/recues/toutes")
    await axe_clean(ccas)
    await ccas.goto(f"{base}/mes-notifications")
    await axe_clean(ccas)
    for context in (ccas_ctx, cms_ctx, pimms_ctx):
        await context.close()


async def _sent(chromium: Any, base: str, folder: Path, sender: Agent, last_name: str) -> str:
    context, page = await _open(chromium, base, sender)
    url = await _orient(page, base, folder, CMS, last_name)
    await context.close()
    return url


async def test_receiving_with_the_keyboard_only(
    served: tuple[str, Path, str], chromium: Any, staff: dict[str, Agent]
) -> None:
    """Acknowledge, then refuse through the « Refuser » panel, without a pointer."""
    base, folder, _ = served
    first = await _sent(chromium, base, folder, staff[CCAS], "Claviertest")
    context, page = await _open(chromium, base, staff[CMS])
    await page.goto(first)
    await page.focus("button:has-text('Accuser réception')")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    await page.wait_for_selector("text=Accusé de réception enregistré")
    await page.focus("summary:has-text('Refuser l’orientation')")
    await page.keyboard.press("Enter")  # opens the panel
    await page.focus("#refuser-motif")
    await page.keyboard.press("ArrowDown")  # the first reason
    await page.keyboard.press("Tab")
    await page.keyboard.type("Hors de notre secteur")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Refuser l’orientation"
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    await page.wait_for_selector("text=Refus enregistré")
    await context.close()


async def test_receiving_without_javascript(
    served: tuple[str, Path, str], chromium: Any, staff: dict[str, Agent]
) -> None:
    """The inbox (its badge as of the page load), accept, relay, take over, close: plain forms."""
    base, folder, _ = served
    second = await _sent(chromium, base, folder, staff[CCAS], "Sansjstest")
    context, page = await _open(chromium, base, staff[CMS], java_script_enabled=False)
    await page.goto(f"{base}/orientations/recues")
    assert await _badge_text(page) >= 1
    await page.click(f"a[href='{second.removeprefix(base)}'] >> nth=0")
    await page.wait_for_url(second)
    await page.click("button:has-text('Accepter l’orientation')")
    await page.wait_for_selector("text=Orientation acceptée")
    await _relay(page, second, folder, PIMMS, axe=False)
    await context.close()
    context, page = await _open(chromium, base, staff[PIMMS], java_script_enabled=False)
    await page.goto(second)
    await page.click("button:has-text('Accepter l’orientation')")
    await page.click("button:has-text('Confirmer la prise en charge')")
    await page.wait_for_selector("text=Prise en charge confirmée")
    await page.click("summary:has-text('Clôturer l’orientation')")  # <details> without JS
    await page.select_option("#cloturer-issue", "solution_found")
    await page.click("button:has-text('Clôturer l’orientation')")
    await page.wait_for_selector("text=Votre part de l’orientation est clôturée")
    await context.close()


async def _badge_text(page: Any) -> int:
    text = await page.inner_text("#badge-recues")
    found = re.search(r"\d+", text)
    return int(found.group()) if found else 0


PHONE = {"width": 390, "height": 844}
WIDE_PAGES = (
    "/",
    "/annuaire?q=aide+alimentaire&commune=26000&rayon=20",
    "/orientations",
    "/orientations/recues",
    "/ma-structure",
    "/equipe",
    "/integrations",
    "/statistiques",
    "/mes-notifications",
)


async def test_every_list_fits_a_phone_screen(
    served: tuple[str, Path, str], chromium: Any, staff: dict[str, Agent]
) -> None:
    """On a phone nothing is wider than the screen: lists become one card per row, each value
    with its column's name; the pages still pass axe-core."""
    base, folder, _ = served
    sender_ctx, sender = await _open(chromium, base, staff[CCAS], viewport=PHONE)
    await _orient(sender, base, folder, CMS, "Telephone")
    receiver_ctx, receiver = await _open(chromium, base, staff[CMS], viewport=PHONE)
    for page in (sender, receiver):
        for path in WIDE_PAGES:
            await page.goto(base + path)
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, (path, overflow)
            await axe_clean(page)
    await sender.goto(f"{base}/orientations")
    first = sender.locator("table.stack tbody tr").first
    assert await first.evaluate("row => getComputedStyle(row).display") == "block"
    state = first.locator("td[data-label='État']")
    assert "État : " in await state.evaluate("c => getComputedStyle(c, '::before').content")
    await sender_ctx.close()
    await receiver_ctx.close()
