"""« Où en est ma demande ? » in real Chromium, on a phone-sized screen: the sender gets the link
after sending (referral page, printed receipt), the person reads each stage (waiting, accepted,
taken over, searching, closed), answers the feedback question, withdraws their consent through
the confirmation; the same with JavaScript off; axe-core (WCAG 2.1 A/AA) on every page and
state. Skipped without Chromium unless REQUIRE_BROWSER=1."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.web.test_browser import axe_clean, chromium, served
from tests.web.test_browser_orientations import Agent, _act, _new_agent, _open, _orient

__all__ = ["chromium", "served"]  # module-scoped fixtures of the browser tests, used here

pytestmark = pytest.mark.slow
CCAS, CMS = "CCAS de Valence", "Centre médico-social de Valence Nord"
PHONE = {"viewport": {"width": 360, "height": 740}, "locale": "fr-FR"}
LINK = re.compile(r"https?://\S+/suivi/[A-Za-z0-9_-]{16,64}")


@pytest.fixture(scope="module")
async def staff(served: tuple[str, Path, str]) -> dict[str, Agent]:
    _, folder, _ = served
    return {name: await _new_agent(folder, name) for name in (CCAS, CMS)}


async def _link_after_sending(
    ccas: Any, base: str, folder: Path, last_name: str
) -> tuple[str, str]:
    """Orient a person to the CMS; the referral page shows their follow-up link, once."""
    url = await _orient(ccas, base, folder, CMS, last_name)
    section = await ccas.inner_text("section[aria-labelledby=suivi-personne]")
    assert "Texte à envoyer par SMS" in section
    found = LINK.search(section)
    assert found, section
    return url, found.group(0)


async def _close(ccas: Any, url: str) -> None:
    await ccas.goto(url)
    await ccas.click("summary:has-text('Clôturer l’orientation')")
    await ccas.select_option("#cloturer-issue", "solution_found")
    await ccas.check("#cloturer-note-4")
    await ccas.fill("#cloturer-commentaire", "Mme Suivitest très contente")
    await _act(ccas, "Clôturer l’orientation")
    await ccas.wait_for_selector("text=Évaluation : 4 sur 5")


async def test_the_person_follows_answers_and_withdraws(
    served: tuple[str, Path, str], chromium: Any, staff: dict[str, Agent]
) -> None:
    base, folder, _ = served
    (ccas_ctx, ccas), (cms_ctx, cms) = [
        await _open(chromium, base, staff[name]) for name in (CCAS, CMS)
    ]
    url, link = await _link_after_sending(ccas, base, folder, "Suivitest")
    await axe_clean(ccas)
    await ccas.goto(f"{url}/recepisse")
    assert link in await ccas.inner_text("main")
    await axe_clean(ccas)

    person_ctx = await chromium.new_context(**PHONE)
    person = await person_ctx.new_page()
    await person.goto(link)
    main = await person.inner_text("main")
    assert "Où en est ma demande ?" in main
    assert f"Votre demande est chez {CMS}" in main
    assert "Vous aurez une réponse avant le" in main
    assert "Suivitest" not in main
    await axe_clean(person)

    await cms.goto(url)
    await _act(cms, "Accepter l’orientation")
    await person.reload()
    assert f"{CMS} a dit oui à votre demande" in await person.inner_text("main")
    await axe_clean(person)
    await cms.goto(url)
    await _act(cms, "Confirmer la prise en charge")
    await person.reload()
    assert f"{CMS} s’occupe de vous" in await person.inner_text("main")
    await axe_clean(person)

    await _close(ccas, url)
    await person.reload()
    main = await person.inner_text("main")
    assert "Votre demande est terminée." in main
    assert "très contente" not in main
    await axe_clean(person)
    await person.check("#reponse-oui")
    await person.fill("#commentaire", "Merci pour l’aide")
    async with person.expect_navigation():
        await person.click("button:has-text('Envoyer ma réponse')")
    await person.wait_for_selector("text=Merci pour votre réponse.")
    await axe_clean(person)

    # Another request, refused: the person sees a new partner is being looked for, then
    # withdraws their consent through the confirmation page.
    second, second_link = await _link_after_sending(ccas, base, folder, "Retraitsuivi")
    await cms.goto(second)
    await cms.click("summary:has-text('Refuser l’orientation')")
    await cms.select_option("#refuser-motif", "no_capacity")
    await cms.fill("#refuser-commentaire", "Plus de place pour Mme Retraitsuivi")
    await _act(cms, "Refuser l’orientation")
    await cms.wait_for_selector("text=Refus enregistré")
    await person.goto(second_link)
    main = await person.inner_text("main")
    assert "cherche une autre structure pour vous" in main
    assert "Plus de place" not in main
    await axe_clean(person)
    await person.click("text=Je retire mon accord")
    await person.wait_for_selector("text=Ce qui sera effacé")
    main = await person.inner_text("main")
    assert CCAS in main
    assert CMS in main
    await axe_clean(person)
    async with person.expect_navigation():
        await person.click("button:has-text('Oui, je retire mon accord')")
    await person.wait_for_selector("text=Votre accord est retiré")
    assert person.url == f"{base}/suivi/retrait-confirme"
    await axe_clean(person)
    await ccas.goto(second)
    assert "Retraitsuivi" not in await ccas.inner_text("main")

    # A link that opens nothing: the same plain page.
    await person.goto(f"{base}/suivi/{'A' * 22}")
    assert "Ce lien ne marche pas" in await person.inner_text("main")
    await axe_clean(person)
    for context in (ccas_ctx, cms_ctx, person_ctx):
        await context.close()


async def test_without_javascript(
    served: tuple[str, Path, str], chromium: Any, staff: dict[str, Agent]
) -> None:
    base, folder, _ = served
    (ccas_ctx, ccas), (cms_ctx, cms) = [
        await _open(chromium, base, staff[name]) for name in (CCAS, CMS)
    ]
    url, link = await _link_after_sending(ccas, base, folder, "Sansjs")
    await cms.goto(url)
    await _act(cms, "Accepter l’orientation")
    await _act(cms, "Confirmer la prise en charge")
    await _close(ccas, url)

    person_ctx = await chromium.new_context(java_script_enabled=False, **PHONE)
    person = await person_ctx.new_page()
    await person.goto(link)
    assert "Avez-vous trouvé une solution ?" in await person.inner_text("main")
    await person.check("#reponse-non")
    await person.click("button:has-text('Envoyer ma réponse')")
    await person.wait_for_selector("text=Merci pour votre réponse.")
    assert "Vous avez répondu : non." in await person.inner_text("main")
    await person.click("text=Je retire mon accord")
    await person.wait_for_selector("text=Qui sera prévenu")
    await person.click("button:has-text('Oui, je retire mon accord')")
    await person.wait_for_selector("text=Votre accord est retiré")
    assert "Sansjs" not in await person.inner_text("body")
    for context in (ccas_ctx, cms_ctx, person_ctx):
        await context.close()
