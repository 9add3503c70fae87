"""The opening hours rows of Ma structure in real Chromium: filled with the keyboard only, with
JavaScript off, on a phone's width, a mistake found from the error summary, and a value the rows
cannot show kept as text — axe-core (WCAG 2.1 A/AA) clean on each. Skipped without Chromium
unless REQUIRE_BROWSER=1."""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.test_browser import CHROMIUM, FLAGS, _require_chromium, _sign_in, axe_clean, served
from tests.web.test_browser_orientations import CCAS, Agent, _new_agent

__all__ = ["served"]  # the module-scoped fixture of the browser tests, used here

pytestmark = pytest.mark.slow
PHONE = {"width": 390, "height": 844}


def _port_in_range() -> int:
    """A free port in BROWSER_PORTS (« 9600-9699 »), when the machine asks for one."""
    first, last = (int(p) for p in os.environ["BROWSER_PORTS"].split("-"))
    for port in range(first, last + 1):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in BROWSER_PORTS")


@pytest.fixture(scope="module", autouse=True)
def _ports() -> Iterator[None]:
    """Set before `served` starts the server (autouse fixtures of a scope come first)."""
    with pytest.MonkeyPatch.context() as patch:
        if os.environ.get("BROWSER_PORTS"):
            patch.setattr("tests.web.test_browser.free_port", _port_in_range)
        yield


@pytest.fixture(scope="module")
async def chromium() -> AsyncIterator[Any]:
    """Chromium in French: time fields in 24 hours (« --:-- »), as French browsers show them."""
    _require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=str(CHROMIUM), args=[*FLAGS, "--lang=fr-FR"]
        )
        yield browser
        await browser.close()


@pytest.fixture(scope="module")
async def agent(served: tuple[str, Path, str]) -> Agent:
    return await _new_agent(served[1], CCAS)


def _hours(folder: Path, structure_id: Any) -> str | None:
    db = sqlite3.connect(folder / "var" / "directory.db")
    try:
        row = db.execute(
            "SELECT opening_hours FROM structures WHERE id = ?", (structure_id.hex,)
        ).fetchone()
    finally:
        db.close()
    return row[0] if row else None


SAVE = "button:text-is('Enregistrer')"
UNUSUAL = "Mo-Fr 09:00-12:00; PH 10:00-12:00"


def _set_hours(folder: Path, structure_id: Any, value: str) -> None:
    """As if written through the API by another tool (the served SQLite database)."""
    db = sqlite3.connect(folder / "var" / "directory.db")
    try:
        changed = db.execute(
            "UPDATE structures SET opening_hours = ? WHERE id = ?", (value, structure_id.hex)
        )
        assert changed.rowcount == 1
        db.commit()
    finally:
        db.close()


async def _type_time(page: Any, hhmm: str) -> None:
    """Type a time (before 13:00) in the focused time field as a person does: the digits, then
    « A » or « P » where Chromium shows it with AM / PM (its language is not always French)."""
    await page.keyboard.type(hhmm.replace(":", ""))
    if await page.evaluate("document.activeElement.value") == "":
        await page.keyboard.type("P" if hhmm >= "12:00" else "A")
    assert await page.evaluate("document.activeElement.value") == hhmm


async def _focused(page: Any) -> str:
    return str(await page.evaluate("document.activeElement.id"))


async def _tab_out(page: Any) -> str:
    """Tab until focus leaves the field (its parts, and in some Chromium versions its clock
    button, are stops of their own): the next field's id."""
    leaving = await _focused(page)
    for _ in range(4):
        await page.keyboard.press("Tab")
        if await _focused(page) != leaving:
            break
    return await _focused(page)


async def test_hours_with_the_keyboard_only(
    served: tuple[str, Path, str], chromium: Any, agent: Agent
) -> None:
    base, folder, _ = served
    context = await chromium.new_context(locale="fr-FR")
    page = await context.new_page()
    await _sign_in(page, base, agent.email)
    edit = f"{base}/ma-structure/fiche/{agent.structure_id}"
    await page.goto(edit)
    await axe_clean(page)
    # Saturday morning, typed in the time fields; Tab goes from « de » to « à ».
    await page.focus("#f-hours-sa-1-start")
    await _type_time(page, "10:00")
    assert await _tab_out(page) == "f-hours-sa-1-end"
    await _type_time(page, "12:30")
    assert await _tab_out(page) == "f-hours-sa-2-start"
    # Sunday: a start without an end, sent with Enter.
    await page.focus("#f-hours-su-1-start")
    await _type_time(page, "09:00")
    await page.keyboard.press("Enter")
    await page.wait_for_selector(".error-summary")
    await axe_clean(page)
    link = page.locator(".error-summary a[href='#f-hours-su-1-end']")
    assert "indiquez l’heure de fin (matin)" in await link.inner_text()
    await link.focus()
    await page.keyboard.press("Enter")
    assert await _focused(page) == "f-hours-su-1-end"
    assert await page.get_attribute("#f-hours-su-1-end", "aria-describedby") == (
        "f-hours-su-1-end-error"
    )
    assert await page.input_value("#f-hours-sa-1-end") == "12:30"  # kept
    await _type_time(page, "12:00")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("text=Modifications enregistrées.")
    assert _hours(folder, agent.structure_id) == (
        "Mo-Fr 08:30-12:00,13:30-17:00; Sa 10:00-12:30; Su 09:00-12:00; PH off"
    )
    await page.goto(f"{base}/structures/{agent.structure_id}")
    assert "Le samedi, de 10 h à 12 h 30" in await page.inner_text("main")
    await context.close()


async def test_hours_without_javascript(
    served: tuple[str, Path, str], chromium: Any, agent: Agent
) -> None:
    """Plain form posts (axe-core needs JavaScript: the pages are checked in the next test)."""
    base, folder, _ = served
    nojs = await chromium.new_context(locale="fr-FR", java_script_enabled=False)
    page = await nojs.new_page()
    await _sign_in(page, base, agent.email)
    edit = f"{base}/ma-structure/fiche/{agent.structure_id}"
    await page.goto(edit)
    # Wednesday afternoon closed, Thursday open without a break, open on public holidays.
    for field in ("#f-hours-we-2-start", "#f-hours-we-2-end", "#f-hours-th-2-start"):
        await page.fill(field, "")
    await page.fill("#f-hours-th-2-end", "")
    await page.fill("#f-hours-th-1-end", "17:00")
    await page.uncheck("#f-hours_holidays")
    await page.click(SAVE)
    await page.wait_for_selector("text=Modifications enregistrées.")
    assert _hours(folder, agent.structure_id) == (
        "Mo,Tu,Fr 08:30-12:00,13:30-17:00; We 08:30-12:00; Th 08:30-17:00; "
        "Sa 10:00-12:30; Su 09:00-12:00"
    )
    # A value the rows cannot show: kept as text, said in words, the rows on request.
    _set_hours(folder, agent.structure_id, UNUSUAL)
    await page.goto(edit)
    assert "ne sait pas représenter" in await page.inner_text("main")
    assert "Les jours fériés de 10 h à 12 h" in await page.inner_text("main")
    assert await page.input_value("#f-opening_hours") == UNUSUAL
    await page.click(SAVE)
    await page.wait_for_selector("text=Modifications enregistrées.")
    assert _hours(folder, agent.structure_id) == UNUSUAL
    await page.click("text=Saisir plutôt les horaires jour par jour")
    await page.wait_for_selector("#f-hours-mo-1-start")
    assert "seront remplacés" in await page.inner_text("main")
    await page.fill("#f-hours-mo-1-start", "09:00")
    await page.fill("#f-hours-mo-1-end", "11:00")
    await page.click(SAVE)
    await page.wait_for_selector("text=Modifications enregistrées.")
    assert _hours(folder, agent.structure_id) == "Mo 09:00-11:00"
    await nojs.close()


async def test_hours_on_a_phone(served: tuple[str, Path, str], chromium: Any, agent: Agent) -> None:
    """Nothing wider than the screen, axe-core clean: the rows, a mistake, the text."""
    base, folder, _ = served
    context = await chromium.new_context(locale="fr-FR", viewport=PHONE)
    page = await context.new_page()
    await _sign_in(page, base, agent.email)
    edit = f"{base}/ma-structure/fiche/{agent.structure_id}"

    async def fits() -> None:
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (page.url, overflow)
        await axe_clean(page)

    await page.goto(edit)
    await fits()
    await page.fill("#f-hours-tu-1-start", "12:00")
    await page.fill("#f-hours-tu-1-end", "09:00")
    await page.click(SAVE)
    await page.wait_for_selector(".error-summary")
    await fits()
    _set_hours(folder, agent.structure_id, UNUSUAL)
    await page.goto(edit)
    await page.wait_for_selector("#f-opening_hours")
    await fits()
    await page.goto(f"{edit}?horaires=tableau")
    await fits()
    await context.close()
