"""The web app through HTTP as a browser without JavaScript uses it: sign-in through /auth,
search, fiches, editing (API messages, 412), team, integrations, sign-out."""

from __future__ import annotations

import html
import logging
import re
import uuid
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from services.directory.models import Service
from services.kernel.clock import utcnow
from services.web.models import WebSession
from services.web.worker import purge_sessions
from tests.auth.helpers import PASSWORD, make_account
from tests.conftest import Relais
from tests.web.helpers import browser, csrf_of, demo_structure, sign_in, sign_in_as


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no {name} on the page"
    return html.unescape(match.group(1))


async def a_service_of(relais: Relais, structure_id: uuid.UUID) -> uuid.UUID:
    async with relais.app("directory").state.db.session() as session:
        found = await session.scalar(
            sa.select(Service.id)
            .where(Service.structure_id == structure_id, Service.status == "published")
            .limit(1)
        )
    assert found is not None
    return found


async def test_anonymous_search_by_word_commune_and_radius(web_relais: Relais) -> None:
    b = browser(web_relais)
    ambiguous = await b.get("/annuaire", params={"q": "aide alimentaire", "commune": "Valence"})
    assert "Plusieurs communes correspondent à « Valence »" in ambiguous.text
    assert "Valence (26000) — Drôme" in ambiguous.text
    page = await b.get(
        "/annuaire",
        params={"q": "aide alimentaire", "commune": "Valence (26000)", "rayon": "20"},
    )
    assert page.status_code == 200
    assert 'lang="fr"' in page.text
    assert "services trouvés pour une personne habitant Valence, à moins de 20 km" in page.text
    assert re.search(r'<a href="/services/[0-9a-f-]{36}">', page.text)
    # Facet counts beside the filters, labels not slugs.
    assert re.search(r"Équipement et alimentation <span class=\"count\">\(\d+\)", page.text)
    assert "aide-alimentaire" not in page.text.split("<ol")[1].split("</ol>")[0]
    for header in ("content-security-policy", "x-frame-options", "referrer-policy"):
        assert header in page.headers
    assert page.headers["cache-control"] == "no-store"
    # htmx asks for the results area only: the same route, the same markup.
    partial = await b.get(
        "/annuaire",
        params={"q": "aide alimentaire", "commune": "26000", "rayon": "20"},
        headers={"HX-Request": "true"},
    )
    assert partial.text.lstrip().startswith('<div id="zone-resultats"')
    assert "<html" not in partial.text
    # An unknown word gets a suggestion; the URL holds the query.
    typo = await b.get("/annuaire", params={"q": "alimentaton"})
    assert "Vouliez-vous dire" in typo.text
    assert 'href="/annuaire?q=' in typo.text


async def test_commune_suggestions_and_unknown_commune(web_relais: Relais) -> None:
    b = browser(web_relais)
    found = await b.get("/annuaire/communes", params={"commune": "Valen"})
    assert '<option value="Valence (26000)">' in found.text
    unknown = await b.get("/annuaire", params={"commune": "Nullepartville"})
    assert unknown.status_code == 200
    assert "Nous ne trouvons pas la commune" in unknown.text


async def test_fiche_service_and_structure_in_words(web_relais: Relais) -> None:
    sid = await demo_structure(web_relais)
    service_id = await a_service_of(web_relais, sid)
    b = browser(web_relais)
    page = await b.get(f"/services/{service_id}")
    assert page.status_code == 200
    assert "Orienter une personne" in page.text
    assert "Comment orienter ?" in page.text
    assert re.search(r"(Vérifié|vérifiées|Mises à jour) le \d{1,2}(er)? \w+ 20\d\d", page.text)
    structure = await b.get(f"/structures/{sid}")
    assert structure.status_code == 200
    assert f'href="/services/{service_id}"' in structure.text
    missing = await b.get(f"/services/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert "Page introuvable" in missing.text


async def test_fiche_says_who_may_refer(web_relais: Relais) -> None:
    sid = await demo_structure(web_relais)
    service_id = await a_service_of(web_relais, sid)
    b = browser(web_relais)
    for referable_by, said in (
        (["professionnels", "usagers"], "Qui peut orienter : professionnels, usagers."),
        (["usagers"], "Qui peut orienter : usagers."),
    ):
        async with web_relais.app("directory").state.db.session() as session:
            await session.execute(
                sa.update(Service).where(Service.id == service_id).values(referable_by=referable_by)
            )
            await session.commit()
        page = await b.get(f"/services/{service_id}")
        assert page.status_code == 200
        assert said in page.text
    # Open to the people themselves only: no « Orienter » button, and why.
    assert "Orienter une personne vers ce service" not in page.text
    assert "ne reçoit pas d’orientation d’un professionnel" in page.text


async def test_sign_in_lands_on_the_home_page_and_sign_out_revokes(web_relais: Relais) -> None:
    sid = await demo_structure(web_relais)
    staff, email = await sign_in(web_relais, sid)
    home = await staff.get("/")
    assert home.status_code == 200
    assert "Bonjour Camille Agent" in home.text
    assert "Se déconnecter" in home.text
    cookie = staff.cookies.get("relais_web")
    assert cookie
    async with web_relais.app("web").state.db.session() as session:
        row = await session.scalar(sa.select(WebSession).where(WebSession.email == email))
        assert row is not None
        # Tokens are sealed at rest, never the access token in clear.
        assert not row.access_token.startswith("ey")
    # A form without the session's CSRF token is refused.
    forged = await staff.post("/deconnexion", data={"csrf_token": "x" * 32})
    assert forged.status_code == 400
    out = await staff.post("/deconnexion", data={"csrf_token": csrf_of(home.text)})
    assert out.status_code == 303
    # Then the sign-in ends at auth too (RP-initiated logout), which sends the browser back.
    assert out.headers["location"].startswith("/auth/end-session?id_token_hint=")
    ended = await staff.get(out.headers["location"])
    assert ended.status_code == 303, ended.text
    assert ended.headers["location"] == "http://testserver/au-revoir"
    bye = await staff.get("/au-revoir")
    assert "Vous êtes déconnecté·e" in bye.text
    async with web_relais.app("web").state.db.session() as session:
        assert await session.get(WebSession, row.id) is None
    again = await staff.get("/ma-structure")
    assert again.status_code == 303
    assert again.headers["location"].startswith("/connexion")
    # « Se connecter » asks for the password again.
    start = await staff.get(again.headers["location"])
    login_page = await staff.get(start.headers["location"])
    assert login_page.status_code == 200
    assert 'name="password"' in login_page.text


async def test_sessions_ended_by_inactivity_are_revoked_at_auth(web_relais: Relais) -> None:
    sid = await demo_structure(web_relais)
    staff, email = await sign_in(web_relais, sid)
    web = web_relais.app("web")
    sessions = web.state.sessions
    async with web.state.db.session() as session:
        row = await session.scalar(sa.select(WebSession).where(WebSession.email == email))
        assert row is not None
        refresh = sessions.sealer.open(row.refresh_token, str(row.id))
        row.last_seen_at = row.last_seen_at - sessions.idle - timedelta(minutes=1)
    assert refresh is not None
    assert await purge_sessions(web) >= 1
    async with web.state.db.session() as session:
        assert await session.get(WebSession, row.id) is None
    # The refresh token the session held no longer works at auth.
    reused = await web_relais.client.post(
        "/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh},
        auth=sessions.oidc.credentials,
    )
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert (await staff.get("/ma-structure")).status_code == 303


async def test_activity_is_written_at_most_once_a_minute_and_idleness_still_signs_out(
    web_relais: Relais,
) -> None:
    sid = await demo_structure(web_relais)
    staff, email = await sign_in(web_relais, sid)
    web = web_relais.app("web")

    async def last_seen(moved: timedelta | None = None) -> datetime:
        async with web.state.db.session() as session:
            row = await session.scalar(sa.select(WebSession).where(WebSession.email == email))
            assert row is not None
            if moved is not None:
                row.last_seen_at = utcnow() - moved
            return row.last_seen_at

    signed_in = await last_seen()
    assert (await staff.get("/ma-structure")).status_code == 200
    assert await last_seen() == signed_in  # a page view within the minute writes nothing
    two_minutes_ago = await last_seen(timedelta(minutes=2))
    assert (await staff.get("/ma-structure")).status_code == 200
    assert await last_seen() > two_minutes_ago + timedelta(minutes=1)  # recorded: now
    await last_seen(web.state.sessions.idle + timedelta(seconds=1))
    idle = await staff.get("/ma-structure")
    assert idle.status_code == 303
    assert idle.headers["location"].startswith("/connexion")


async def test_edit_service_messages_conflict_and_search(web_relais: Relais) -> None:
    sid = await demo_structure(web_relais)
    service_id = await a_service_of(web_relais, sid)
    first, _ = await sign_in(web_relais, sid)
    second, _ = await sign_in(web_relais, sid)
    url = f"/ma-structure/services/{service_id}"
    form_a = await first.get(url)
    form_b = await second.get(url)
    assert form_a.status_code == 200
    fields_a = {
        "csrf_token": csrf_of(form_a.text),
        "etag": hidden(form_a.text, "etag"),
        "loaded_at": hidden(form_a.text, "loaded_at"),
        "name": "Épicerie solidaire du quartier",
        "referral_email": "pas-une-adresse",
    }
    refused = await first.post(url, data=fields_a)
    assert refused.status_code == 422
    assert 'id="f-referral_email-error"' in refused.text
    assert "Le formulaire contient 1 erreur" in refused.text
    assert 'value="pas-une-adresse"' in refused.text  # what was typed is kept
    new_name = f"Épicerie solidaire {uuid.uuid4().hex[:6]}"
    saved = await first.post(url, data={**fields_a, "name": new_name, "referral_email": ""})
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{url}?message=enregistre"
    # The other person still had the old version open: 412, shown with what changed.
    typed = {
        "csrf_token": csrf_of(form_b.text),
        "etag": hidden(form_b.text, "etag"),
        "loaded_at": hidden(form_b.text, "loaded_at"),
        "name": "Nom tapé par la seconde personne",
    }
    conflict = await second.post(url, data=typed)
    assert conflict.status_code == 409
    assert "Quelqu’un a modifié cette fiche" in conflict.text
    assert new_name in html.unescape(conflict.text)
    assert 'value="Nom tapé par la seconde personne"' in conflict.text
    assert hidden(conflict.text, "etag") != typed["etag"]
    # The change is in the search.
    found = await browser(web_relais).get("/annuaire", params={"q": new_name})
    assert new_name in html.unescape(re.sub(r"</?mark>", "", found.text))


async def test_capacity_and_verify_in_one_click(web_relais: Relais) -> None:
    sid = await demo_structure(web_relais)
    service_id = await a_service_of(web_relais, sid)
    staff, _ = await sign_in(web_relais, sid)
    page = await staff.get("/ma-structure")
    token = csrf_of(page.text)
    full = await staff.post(
        f"/ma-structure/capacite/{service_id}",
        data={"csrf_token": token, "capacity_status": "full"},
    )
    assert full.status_code == 303
    shown = await staff.get(full.headers["location"])
    assert "Disponibilité mise à jour" in shown.text
    fiche = await staff.get(f"/services/{service_id}")
    assert "Complet" in fiche.text
    verified = await staff.post(
        f"/ma-structure/services/{service_id}/verifier", data={"csrf_token": token}
    )
    assert verified.status_code == 303
    assert (
        "Merci : les informations sont confirmées"
        in (await staff.get(verified.headers["location"])).text
    )
    # The owner takes the service off the directory (back to draft), then puts it back.
    edit = f"/ma-structure/services/{service_id}"
    assert "Retirer de l’annuaire" in (await staff.get(edit)).text
    off = await staff.post(f"{edit}/retirer", data={"csrf_token": token, "retour": edit})
    assert off.status_code == 303
    page = await staff.get(off.headers["location"])
    assert "Retiré de l’annuaire" in page.text
    assert "Publier dans l’annuaire" in page.text
    assert (await browser(web_relais).get(f"/services/{service_id}")).status_code == 404
    back = await staff.post(f"{edit}/publier", data={"csrf_token": token, "retour": edit})
    assert "C’est publié" in (await staff.get(back.headers["location"])).text
    assert (await browser(web_relais).get(f"/services/{service_id}")).status_code == 200


async def test_member_cannot_open_team_or_integrations(web_relais: Relais) -> None:
    sid = await demo_structure(web_relais)
    member, _ = await sign_in(web_relais, sid, role="member")
    for path in ("/equipe", "/integrations"):
        page = await member.get(path)
        assert page.status_code == 403
        assert "Accès réservé" in page.text


async def test_team_invitations_and_integrations(web_relais: Relais) -> None:
    sid = await demo_structure(web_relais)
    admin, _ = await sign_in(web_relais, sid)
    team = await admin.get("/equipe")
    assert team.status_code == 200
    token = csrf_of(team.text)
    email = f"nouvelle-{uuid.uuid4().hex[:6]}@ccas.example.org"
    bad = await admin.post("/equipe/invitations", data={"csrf_token": token, "email": "non"})
    assert bad.status_code == 422
    invited = await admin.post(
        "/equipe/invitations", data={"csrf_token": token, "email": email, "role": "member"}
    )
    assert invited.status_code == 303
    team = await admin.get(invited.headers["location"])
    assert email in team.text
    invitation = re.search(r"/equipe/invitations/([0-9a-f-]{36})/annuler", team.text)
    assert invitation
    cancelled = await admin.post(
        f"/equipe/invitations/{invitation.group(1)}/annuler", data={"csrf_token": token}
    )
    assert cancelled.status_code == 303
    assert email not in (await admin.get("/equipe")).text
    created = await admin.post(
        "/integrations/clients",
        data={"csrf_token": token, "name": "Logiciel de suivi", "scopes": ["directory:read"]},
    )
    assert created.status_code == 201
    secret = re.search(r'<p class="secret">([^<]+)</p>', created.text)
    assert secret
    again = await admin.get("/integrations")
    assert "Logiciel de suivi" in again.text
    assert secret.group(1) not in again.text  # shown once


async def test_webhook_test_delivery_says_how_it_went(web_relais: Relais) -> None:
    sid = await demo_structure(web_relais)
    admin, _ = await sign_in(web_relais, sid)
    token = csrf_of((await admin.get("/integrations")).text)
    created = await admin.post(
        "/integrations/webhooks",
        data={"csrf_token": token, "url": "https://outil-de-suivi.invalid/relais"},
    )
    assert created.status_code == 201, created.text
    webhook = re.search(r"/integrations/webhooks/([0-9a-f-]{36})/tester", created.text)
    assert webhook, "no « Tester l’envoi » button"
    tested = await admin.post(
        f"/integrations/webhooks/{webhook.group(1)}/tester", data={"csrf_token": token}
    )
    assert tested.status_code == 200
    # Nothing answers at that address: said in words, next to that webhook.
    assert f'id="test-{webhook.group(1)}"' in tested.text
    assert "Le message de test n’a pas été reçu" in tested.text


async def test_every_stylesheet_and_script_a_page_names_is_served(web_relais: Relais) -> None:
    b = browser(web_relais)
    page = await b.get("/annuaire")
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
    assert any(".css" in asset for asset in assets)
    assert any(".js" in asset for asset in assets)
    for asset in assets:
        served = await b.get(html.unescape(asset))
        assert served.status_code == 200, asset
        assert "max-age=31536000" in served.headers["cache-control"]


async def test_what_a_person_types_never_reaches_the_logs(
    web_relais: Relais, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    page = await browser(web_relais).get("/annuaire", params={"q": "Mireille Testpersonne"})
    assert page.status_code == 200
    # Nor by httpx, whose INFO line of each call to the API holds the full URL.
    assert "Testpersonne" not in caplog.text


async def test_a_member_of_two_structures_switches_in_the_header(web_relais: Relais) -> None:
    first = await demo_structure(web_relais, "CCAS de Valence")
    second = await demo_structure(web_relais, "PIMMS")
    b, _ = await sign_in(web_relais, first, also=(second,))
    home = await b.get("/")
    assert '<select id="structure-choice" name="structure_id">' in home.text
    assert re.search(rf'<option value="{first}" selected>CCAS de Valence</option>', home.text)
    switched = await b.post(
        "/structure",
        data={"csrf_token": csrf_of(home.text), "structure_id": str(second), "retour": "/"},
    )
    assert switched.status_code == 303
    assert switched.headers["location"] == "/"
    now = await b.get("/")
    assert re.search(rf'<option value="{second}" selected>PIMMS', now.text)
    assert "Voici ce qui vous attend aujourd’hui pour PIMMS" in now.text
    # A structure I am no member of: nothing changes.
    stranger = await demo_structure(web_relais, "Restos")
    await b.post(
        "/structure",
        data={"csrf_token": csrf_of(now.text), "structure_id": str(stranger), "retour": "/"},
    )
    assert re.search(rf'<option value="{second}" selected>PIMMS', (await b.get("/")).text)
    # Without the form's CSRF token the switch is refused.
    refused = await b.post("/structure", data={"structure_id": str(first), "retour": "/"})
    assert refused.status_code == 400


async def test_a_moderator_of_no_structure_has_no_empty_switcher(web_relais: Relais) -> None:
    moderator = await make_account(web_relais, moderator=True)
    b = await sign_in_as(web_relais, moderator.email, PASSWORD)
    home = (await b.get("/statistiques")).text
    assert "structure-choice" not in home
    assert "· modération du réseau" in home
    # With one structure the header names it, and offers no switch either.
    one, _ = await sign_in(web_relais, await demo_structure(web_relais, "CCAS de Valence"))
    page = (await one.get("/")).text
    assert "structure-choice" not in page
    assert "· CCAS de Valence" in page
