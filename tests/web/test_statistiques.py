"""Statistiques over HTTP: the API's numbers as charts and tables, values hidden by statistical
secrecy said « masqué », period and grouping in the URL, the CSV as a download, a structure's
member sees their structure, anonymous people are sent to sign in."""

from __future__ import annotations

import re

from services.web.features.statistiques.view import french
from tests.conftest import Relais
from tests.web.helpers import browser
from tests.web.orientations import THEMATIQUE, agent, refer


def web_label(thematique: str) -> str:
    """The thematique's name in the reference data the annuaire serves."""
    from services.kernel.reference.taxonomies import taxonomy

    label = taxonomy("thematiques").label(thematique)
    assert label, thematique
    return label


SENDER, RECEIVER = "CCAS de Crest", "Centre social de Nocaze"


def section(page: str, heading_id: str) -> str:
    """The HTML from one section's heading to the next ``<h2``."""
    start = page.index(f'id="{heading_id}"')
    end = page.find("<h2", start + 1)
    return page[start : end if end != -1 else len(page)]


async def test_a_structure_reads_its_numbers_in_charts_and_tables(web_relais: Relais) -> None:
    sender, receiver = await agent(web_relais, SENDER), await agent(web_relais, RECEIVER)
    for _ in range(6):
        await refer(web_relais, sender, receiver)
    page = await sender.web.get("/statistiques")
    assert page.status_code == 200, page.text
    assert "Les orientations envoyées ou reçues par votre structure" in page.text
    # Six referrals, all « accueil physique »: published; every other channel is 0.
    assert re.search(r'<span class="number">6</span>', page.text)
    channels = section(page.text, "tableau-canal")
    assert "<td>6</td>" in channels
    assert '<svg class="chart"' in channels
    assert 'role="img"' in channels
    assert "<caption" in channels
    # Statuses: all six in progress; a count of 1 to 4 would be hidden: none is here.
    statuses = section(page.text, "tableau-statut")
    assert "<td>6</td>" in statuses
    # The thresholds are the API's: the page says which.
    assert "inférieur à 5" in page.text
    # Categories by their names, never codes: thematiques as the annuaire names them, channels in
    # the web app's words (a letter is « courrier »), capital first, typographic apostrophes.
    themes = section(page.text, "tableau-thematique")
    assert THEMATIQUE not in themes
    assert f'<th scope="row">{french(web_label(THEMATIQUE))}</th>' in themes
    assert "Accueil physique" in channels
    assert "Courrier" in channels
    assert ">postal<" not in channels
    assert "canal d’arrivée" in page.text
    assert "canal d'arrivée" not in page.text
    # None of the six is closed: no solution rate yet, which is not a secret.
    solved = section(page.text, "taux-taux_solution")
    assert "pas encore de données" in solved
    assert "masqué" not in solved
    # The CSV link keeps the period and the grouping.
    assert 'href="/statistiques/export.csv?du=' in page.text


async def test_small_counts_are_masked_and_the_grouping_is_named(web_relais: Relais) -> None:
    sender, receiver = (
        await agent(web_relais, "CCAS de Nyons"),
        await agent(web_relais, "Épicerie solidaire du Diois"),
    )
    for _ in range(2):
        await refer(web_relais, sender, receiver)
    page = await sender.web.get("/statistiques")
    statuses = section(page.text, "tableau-statut")
    assert '<span class="masked">masqué</span>' in statuses
    assert "<td>2</td>" not in statuses  # never a count under the threshold
    assert 'class="chart-hidden"' in statuses  # drawn as a dashed outline
    grouped = await sender.web.get("/statistiques", params={"par": "structure"})
    assert grouped.status_code == 200
    assert '<option value="structure" selected>' in grouped.text
    assert "Ensemble" in grouped.text


async def test_period_errors_csv_and_sign_in(web_relais: Relais) -> None:
    sender = await agent(web_relais, SENDER)
    bad = await sender.web.get("/statistiques", params={"du": "2026-13-01"})
    assert bad.status_code == 422
    assert "date invalide" in bad.text
    backwards = await sender.web.get(
        "/statistiques", params={"du": "2026-06-01", "au": "2026-01-01"}
    )
    assert "la fin de la période précède son début" in backwards.text
    chosen = await sender.web.get("/statistiques", params={"du": "2025-01-01", "au": "2025-12-31"})
    assert "du 1er janvier 2025 au 31 décembre 2025" in chosen.text
    csv = await sender.web.get(
        "/statistiques/export.csv", params={"du": "2025-01-01", "au": "2026-12-31"}
    )
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    header = csv.content.decode("utf-8-sig").splitlines()[0]
    assert "indicateur" in header
    anonymous = await browser(web_relais).get("/statistiques")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/connexion")
