"""« Orienter une personne » in real Chromium: from a fiche with the keyboard only, from scratch
with JavaScript off (partner and a further recipient found in the annuaire, a document joined);
the consent receipt in its print layout. axe-core (WCAG 2.1 A/AA) on every page and state,
validation errors included, in the keyboard run: axe runs as a script in the page, and the pages
are the same server-rendered HTML with JavaScript off. Skipped without Chromium unless
REQUIRE_BROWSER=1."""

from __future__ import annotations

import re
import sqlite3
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.auth.helpers import PASSWORD, link_in, mails_to
from tests.web.test_browser import _sign_in, axe_clean, chromium, served

__all__ = ["chromium", "served"]  # module-scoped fixtures of the browser tests, used here

pytestmark = pytest.mark.slow
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def _targets(folder: Path) -> list[tuple[str, str, str]]:
    """Published services of other structures that take referrals: (service id, its name,
    its structure's name)."""
    db = sqlite3.connect(folder / "var" / "directory.db")
    try:
        rows = db.execute(
            "SELECT v.id, v.name, s.name FROM services v "
            "JOIN structures s ON s.id = v.structure_id "
            "WHERE v.status = 'published' AND s.status = 'published' AND v.accepts_referrals "
            "AND s.accepts_referrals AND v.capacity_status != 'full' "
            "AND s.id != (SELECT s2.id FROM structures s2 JOIN services v2 "
            "ON v2.structure_id = s2.id WHERE s2.status = 'published' "
            "AND v2.status = 'published' ORDER BY s2.name LIMIT 1) "
            "ORDER BY v.name LIMIT 40"
        ).fetchall()
    finally:
        db.close()
    return [(str(uuid.UUID(str(r[0]))), r[1], r[2]) for r in rows]


@pytest.fixture(scope="module")
async def account(served: tuple[str, Path, str], chromium: Any) -> str:
    """The served structure's administrator, with a password (invitation accepted)."""
    _, folder, email = served
    context = await chromium.new_context(locale="fr-FR")
    page = await context.new_page()
    await page.goto(link_in(mails_to(folder / "var", email)[-1], "/auth/invitation"))
    await page.fill("#name", "Agnès Martin")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("text=Se connecter à Relais")
    await context.close()
    return email


async def _signed_in(chromium: Any, base: str, email: str, **options: Any) -> Any:
    context = await chromium.new_context(locale="fr-FR", **options)
    page = await context.new_page()
    await _sign_in(page, base, email)
    return context, page


async def _press(page: Any, selector: str, key: str = "Enter") -> None:
    """Keyboard only: the element takes the focus, then a key acts on it."""
    await page.focus(selector)
    await page.keyboard.press(key)


async def test_orient_from_a_fiche_with_the_keyboard_only(
    served: tuple[str, Path, str], chromium: Any, account: str, tmp_path: Path
) -> None:
    base, folder, _ = served
    service_id, _, structure_name = _targets(folder)[0]
    context, page = await _signed_in(chromium, base, account)
    await page.goto(f"{base}/services/{service_id}")
    await _press(page, "a:has-text('Orienter une personne vers ce service')")
    await page.wait_for_url(re.compile(r".*/orienter\?service="))
    await axe_clean(page)
    await _press(page, "button:has-text('Commencer')")
    await page.wait_for_url(re.compile(r".*/orienter/[0-9a-f-]{36}/personne$"))
    await axe_clean(page)
    # Nothing typed: the errors, summed up and next to the fields, pass axe too.
    await _press(page, "button:has-text('Continuer')")
    await page.wait_for_selector(".error-summary")
    await axe_clean(page)
    await page.focus("#f-first_name")
    await page.keyboard.type("Mireille")
    await page.keyboard.press("Tab")
    await page.keyboard.type("Testpersonne")
    await page.focus("#f-contact_method-1")  # « par téléphone »
    await page.keyboard.press("Space")
    await page.focus("#f-phone")
    await page.keyboard.type("06 12 34 56 78")
    await page.keyboard.press("Enter")  # submits the step
    await page.wait_for_url(re.compile(r".*/besoin$"))
    await axe_clean(page)
    # The service's thematiques are proposed; the channel is chosen with the arrows.
    assert await page.locator("input[name=thematiques]:checked").count() >= 1
    await page.focus("#f-channel-1")
    await page.keyboard.press("Space")
    await page.keyboard.press("ArrowDown")  # « téléphone »
    await _press(page, "button:has-text('Continuer')")
    await page.wait_for_url(re.compile(r".*/consentement$"))
    await axe_clean(page)
    # The target is proposed as the recipient, by name.
    assert await page.is_checked("#f-rec-cible")
    assert structure_name in await page.inner_text("#f-recipients")
    await page.focus("#f-purpose")
    await page.keyboard.type("Étudier sa demande et la recevoir")
    await page.keyboard.press("Enter")  # Enter means « Continuer », not « Ajouter »
    await page.wait_for_url(re.compile(r".*/documents$"))
    await axe_clean(page)
    text_file = tmp_path / "notes.txt"
    text_file.write_text("pas un document")
    await page.set_input_files("#f-documents", str(text_file))  # the file chooser is the OS's
    await _press(page, "button:has-text('Joindre ce document')")
    await page.wait_for_selector(".error-summary")
    await axe_clean(page)
    await _press(page, "button:has-text('Continuer sans document')")
    await page.wait_for_url(re.compile(r".*/verification$"))
    await axe_clean(page)
    # The annuaire inside the form: the partner step and a further recipient's search.
    draft = page.url.rsplit("/", 1)[0]
    for search in ("?q=aide+alimentaire", "?q=CAF&pour=destinataire"):
        await page.goto(f"{draft}/partenaire{search}")
        await page.wait_for_selector(".result")
        await axe_clean(page)
    await page.goto(f"{draft}/verification")
    review = await page.inner_text("main")
    assert "Mireille" in review
    assert "téléphone" in review
    await _press(page, "button:has-text('Envoyer l’orientation')")
    await page.wait_for_url(re.compile(r".*/orientations/[0-9a-f-]{36}$"))
    referral_url = page.url
    # The receipt: on screen, then as printed (no header, menu or buttons).
    await page.goto(f"{referral_url}/recepisse")
    await page.wait_for_selector("text=Récépissé de consentement")
    assert await page.is_visible("[data-imprimer]")  # JavaScript on: the print button shows
    await axe_clean(page)
    await page.emulate_media(media="print")
    assert not await page.is_visible(".site-header")
    assert not await page.is_visible("[data-imprimer]")
    assert await page.is_visible("text=Comment retirer votre accord")
    await context.close()


async def test_orient_from_scratch_without_javascript(
    served: tuple[str, Path, str], chromium: Any, account: str, tmp_path: Path
) -> None:
    base, folder, _ = served
    targets = _targets(folder)
    _, target_name, target_structure = targets[1]
    _, _, extra_structure = next(t for t in targets if t[2] != target_structure)
    context, page = await _signed_in(chromium, base, account, java_script_enabled=False)
    await page.goto(f"{base}/orienter")
    await page.click("button:has-text('Commencer')")
    await page.fill("#f-pseudonym", "M. B.")
    await page.click(".actions button:has-text('Continuer')")
    await page.wait_for_url(re.compile(r".*/besoin$"))
    # No channel, no thematique: refused with the reasons (axe on the error state).
    await page.click(".actions button:has-text('Continuer')")
    await page.wait_for_selector(".error-summary")
    await page.click("summary:has-text('Numérique')")  # <details> opens without JavaScript
    await page.check("#f-th-numerique--acceder-a-des-services-en-ligne")
    await page.check("input[name=channel][value=postal]")
    await page.click(".actions button:has-text('Continuer')")
    # The partner, searched in the annuaire inside the form.
    await page.wait_for_url(re.compile(r".*/partenaire$"))
    await page.fill("#q", target_name)
    await page.click("button:has-text('Chercher')")
    await page.wait_for_selector(".result")
    await page.click(f".result:has(h2:text-is('{target_name}')) button")
    await page.wait_for_url(re.compile(r".*/consentement$"))
    # A further recipient, found the same way, comes back by name.
    await page.fill("#f-purpose", "Démarches en ligne")
    await page.click("button:has-text('Ajouter un autre partenaire')")
    await page.wait_for_url(re.compile(r".*/partenaire\?pour=destinataire$"))
    await page.fill("#q", extra_structure)
    await page.click("button:has-text('Chercher')")
    await page.wait_for_selector(".result")
    await page.click(f"button:has-text('Ajouter {extra_structure}') >> nth=0")
    await page.wait_for_url(re.compile(r".*/consentement(#destinataires)?$"))
    assert await page.input_value("#f-purpose") == "Démarches en ligne"
    assert extra_structure in await page.inner_text("#f-recipients")
    await page.fill("#f-expires_on", "")
    await page.click(".actions button:has-text('Continuer')")
    await page.wait_for_selector(".error-summary")
    await page.fill("#f-expires_on", f"{date.today().year + 2}-12-31")
    await page.click(".actions button:has-text('Continuer')")
    # A document: a text file is refused, a PDF joined.
    await page.wait_for_url(re.compile(r".*/documents$"))
    text_file = tmp_path / "notes.txt"
    text_file.write_text("pas un document")
    await page.set_input_files("#f-documents", str(text_file))
    await page.click("button:has-text('Joindre ce document')")
    await page.wait_for_selector(".error-summary")
    pdf = tmp_path / "courrier.pdf"
    pdf.write_bytes(PDF)
    await page.set_input_files("#f-documents", str(pdf))
    await page.click("button:has-text('Joindre ce document')")
    await page.wait_for_selector("text=courrier.pdf")
    await page.click(".actions button:has-text('Continuer')")
    await page.wait_for_url(re.compile(r".*/verification$"))
    review = await page.inner_text("main")
    assert extra_structure in review
    assert "courrier.pdf" in review
    await page.click("button:has-text('Envoyer l’orientation')")
    await page.wait_for_url(re.compile(r".*/orientations/[0-9a-f-]{36}$"))
    await page.goto(page.url + "/recepisse")
    assert not await page.is_visible("[data-imprimer]")  # no JavaScript: no dead button
    assert extra_structure in await page.inner_text("main")
    await context.close()
