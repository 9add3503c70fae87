"""Editing opening hours in Ma structure through HTTP, as a browser without JavaScript: the rows
per day read from the stored text, saved back as the canonical text, mistakes said next to
their input, and a value the rows cannot show kept as written."""

from __future__ import annotations

import html
import re
import uuid
from html.parser import HTMLParser

import sqlalchemy as sa

from services.directory.models import Structure
from tests.conftest import Relais
from tests.web.helpers import demo_structure, sign_in


class _Fields(HTMLParser):
    """What the edit form would send as it is (inputs, checked boxes, selects, textareas)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self.inside = False
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("novalidate") is not None and "etag" not in a:
            self.inside = True
        if not self.inside or ("name" not in a and tag != "option"):
            return
        if tag == "input":
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "")))
        elif tag == "textarea":
            self._textarea = a["name"]
            self.fields.append((a["name"], ""))
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.fields.append((self._select, a.get("value", "")))

    def handle_data(self, data: str) -> None:
        if self._textarea:
            name, value = self.fields.pop()
            self.fields.append((name, value + data))

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None
        elif tag == "form":
            self.inside = False


def form_of(page: str) -> dict[str, list[str]]:
    parser = _Fields()
    parser.feed(page)
    found: dict[str, list[str]] = {}
    for name, value in parser.fields:
        found.setdefault(name, []).append(value)
    return found


async def stored_hours(relais: Relais, structure_id: uuid.UUID) -> str | None:
    async with relais.app("directory").state.db.session() as session:
        return await session.scalar(
            sa.select(Structure.opening_hours).where(Structure.id == structure_id)
        )


def rows(**days: tuple[str, str, str, str]) -> dict[str, list[str]]:
    """The day inputs: ``mo=("09:00", "12:00", "14:00", "17:00")``; the others empty."""
    found: dict[str, list[str]] = {}
    for day in ("mo", "tu", "we", "th", "fr", "sa", "su"):
        given = days.get(day, ("", "", "", ""))
        for index, name in enumerate(("1-start", "1-end", "2-start", "2-end")):
            found[f"hours-{day}-{name}"] = [given[index]]
    return found


async def test_opening_hours_rows_saved_as_canonical_text(web_relais: Relais) -> None:
    sid = await demo_structure(web_relais)
    staff, _ = await sign_in(web_relais, sid)
    url = f"/ma-structure/fiche/{sid}"
    page = await staff.get(url)
    assert page.status_code == 200
    before = await stored_hours(web_relais, sid)
    assert 'type="time" id="f-hours-mo-1-start" name="hours-mo-1-start"' in page.text
    assert "<legend>Lundi</legend>" in page.text
    assert "<legend>Dimanche</legend>" in page.text
    sent = form_of(page.text)
    assert sent["hours_mode"] == ["jours"]
    assert sent["name"]  # the whole form, as a browser would send it
    # Saving the form untouched keeps the stored text as it was written.
    assert (await staff.post(url, data=sent)).status_code == 303
    assert await stored_hours(web_relais, sid) == before
    # New hours: the same rows Monday to Thursday, Friday morning, Saturday afternoon only.
    week = rows(
        mo=("09:00", "12:00", "14:00", "17:00"),
        tu=("09:00", "12:00", "14:00", "17:00"),
        we=("09:00", "12:00", "14:00", "17:00"),
        th=("09:00", "12:00", "14:00", "17:00"),
        fr=("09:00", "12:00", "", ""),
        sa=("", "", "14:00", "16:30"),
    )
    page = await staff.get(url)
    saved = await staff.post(url, data={**form_of(page.text), **week, "hours_holidays": ["oui"]})
    assert saved.status_code == 303, saved.text
    assert (
        await stored_hours(web_relais, sid)
        == "Mo-Th 09:00-12:00,14:00-17:00; Fr 09:00-12:00; Sa 14:00-16:30; PH off"
    )
    page = await staff.get(saved.headers["location"])
    assert 'id="f-hours-sa-2-start" name="hours-sa-2-start" value="14:00"' in page.text
    assert 'id="f-hours-sa-1-start" name="hours-sa-1-start" value=""' in page.text
    assert re.search(
        r'id="f-hours_holidays" name="hours_holidays" value="oui"\s+checked', page.text
    )
    fiche = await staff.get(f"/structures/{sid}")
    assert "Du lundi au jeudi, de 9 h à 12 h et de 14 h à 17 h" in html.unescape(fiche.text)


async def test_opening_hours_mistakes_next_to_their_input(web_relais: Relais) -> None:
    sid = await demo_structure(web_relais)
    staff, _ = await sign_in(web_relais, sid)
    url = f"/ma-structure/fiche/{sid}"
    before = await stored_hours(web_relais, sid)
    page = await staff.get(url)
    wrong = rows(
        mo=("09:00", "", "", ""),
        tu=("12:00", "09:00", "", ""),
        we=("09:00", "14:00", "13:00", "17:00"),
    )
    refused = await staff.post(url, data={**form_of(page.text), **wrong})
    assert refused.status_code == 422
    text = html.unescape(refused.text)
    assert "Le formulaire contient 3 erreurs" in text
    for key, said in (
        ("hours-mo-1-end", "indiquez l’heure de fin (matin)"),
        ("hours-tu-1-end", "la fin doit être après le début (matin)"),
        ("hours-we-2-start", "le matin et l’après-midi se chevauchent"),
    ):
        assert f'id="f-{key}-error"' in text
        assert f'aria-invalid="true" aria-describedby="f-{key}-error"' in text
        assert f'<a href="#f-{key}">' in text
        assert said in text
    assert "Horaires d’ouverture, lundi : indiquez l’heure de fin (matin)" in text
    # What was typed is shown again; nothing was saved.
    assert 'name="hours-tu-1-start" value="12:00"' in text
    assert await stored_hours(web_relais, sid) == before


async def test_opening_hours_the_rows_cannot_show_are_kept(web_relais: Relais) -> None:
    sid = await demo_structure(web_relais)
    staff, _ = await sign_in(web_relais, sid)
    url = f"/ma-structure/fiche/{sid}"
    page = await staff.get(url)
    unusual = "Mo-Fr 09:00-12:00; PH 10:00-12:00"
    sent = {**form_of(page.text), "hours_mode": ["texte"], "opening_hours": [unusual]}
    assert (await staff.post(url, data=sent)).status_code == 303
    assert await stored_hours(web_relais, sid) == unusual
    page = await staff.get(url)
    text = html.unescape(page.text)
    assert "que le tableau jour par jour ne sait pas représenter" in text
    assert "Les jours fériés de 10 h à 12 h" in text  # in words
    assert f'id="f-opening_hours" name="opening_hours" type="text" value="{unusual}"' in text
    assert 'name="hours-mo-1-start"' not in text
    # Saving other fields keeps it as written; the API's message comes next to the text.
    sent = form_of(page.text)
    assert sent["hours_mode"] == ["texte"]
    assert (await staff.post(url, data=sent)).status_code == 303
    assert await stored_hours(web_relais, sid) == unusual
    refused = await staff.post(url, data={**sent, "opening_hours": ["lundi matin"]})
    assert refused.status_code == 422
    assert 'id="f-opening_hours-error"' in refused.text
    assert "horaires invalides" in html.unescape(refused.text)
    # Or start again with the rows: the page says the text will be replaced.
    table = await staff.get(url, params={"horaires": "tableau"})
    assert "Si vous enregistrez, ils seront remplacés" in html.unescape(table.text)
    replaced = {**form_of(table.text), **rows(sa=("10:00", "12:00", "", ""))}
    assert (await staff.post(url, data=replaced)).status_code == 303
    assert await stored_hours(web_relais, sid) == "Sa 10:00-12:00"
