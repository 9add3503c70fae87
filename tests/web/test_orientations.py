"""Orientations through the web app over HTTP, as a browser without JavaScript uses it: the inbox
and its badge, each side's buttons, a relay to takeover and close, refusal with its required
fields, a 412 shown as the new state, consent limits said in words, withdrawal, the lists'
filters and the export for the person."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from services.auth.models import Account
from services.referrals import worker
from services.referrals.models import Handoff, WebhookSubscription
from tests.conftest import Relais
from tests.web.helpers import csrf_of
from tests.web.orientations import (
    PERSON,
    SUMMARY,
    agent,
    follow,
    refer,
    reference,
    service_of,
    submit,
)

CCAS, CMS, PIMMS = (
    "CCAS de Valence",
    "Centre médico-social de Valence Nord",
    "PIMMS Médiation Drôme",
)


async def test_relay_flow_says_why_a_partner_the_consent_leaves_out_cannot_be_chosen(
    web_relais: Relais,
) -> None:
    ccas, cms, pimms = [await agent(web_relais, name) for name in (CCAS, CMS, PIMMS)]
    created = await refer(web_relais, ccas, cms, onward_relay_allowed=True, further_partners=False)
    page = f"/orientations/{created['id']}"
    why = "Ne peut pas recevoir le relais : le consentement de la personne ne nomme pas"
    pimms_service = await service_of(web_relais, pimms.structure_id)
    search = await cms.web.get(f"{page}/relayer", params={"q": "médiation"})
    assert search.status_code == 200
    assert why in search.text
    assert f"service={pimms_service}" not in search.text
    chosen = await cms.web.get(f"{page}/relayer", params={"service": str(pimms_service)})
    assert chosen.status_code == 200
    assert why in chosen.text
    assert '/relayer" class="panel"' not in chosen.text
    assert f"Relayer à {PIMMS}" not in chosen.text


async def test_relay_to_takeover_and_close_through_the_forms(web_relais: Relais) -> None:
    ccas, cms, pimms = [await agent(web_relais, name) for name in (CCAS, CMS, PIMMS)]
    created = await refer(web_relais, ccas, cms, onward_relay_allowed=True, further_partners=True)
    rid, ref = created["id"], reference(created["id"])
    page = f"/orientations/{rid}"

    # The CMS's inbox lists it among the new ones; the header's badge counts it.
    inbox = await cms.web.get("/orientations/recues")
    assert inbox.status_code == 200
    new = inbox.text.split('id="nouvelles"')[1].split("</section>")[0]
    assert ref in new
    assert re.search(r'class="nav-badge" aria-hidden="true">\d+', inbox.text)
    assert "CCAS de Valence" in new  # the sender by name, not by id
    assert PERSON["last_name"] not in inbox.text  # lists carry no personal data

    # The receiver's buttons: exactly the transitions allowed now.
    seen = (await cms.web.get(page)).text
    assert PERSON["last_name"] in seen
    assert SUMMARY in seen
    for words in ("Accuser réception", "Accepter l’orientation", "Refuser l’orientation"):
        assert words in seen
    assert "Confirmer la prise en charge" not in seen
    assert "Relayer vers un autre partenaire" in seen
    seen = await follow(
        cms.web,
        await submit(
            cms.web, seen, f"{page}/transmissions/{created['handoffs'][0]['id']}/accuser-reception"
        ),
    )
    assert "Accusé de réception enregistré" in seen
    assert "Accuser réception" not in seen.split('id="que-faire"')[1].split("</section>")[0]

    # Relay inside the flow: search the annuaire, choose a service, confirm.
    pimms_service = await service_of(web_relais, pimms.structure_id)
    search = await cms.web.get(f"{page}/relayer", params={"q": "médiation"})
    assert search.status_code == 200
    assert "Choisir ce service" in search.text
    chosen = await cms.web.get(f"{page}/relayer", params={"service": str(pimms_service)})
    assert "Vous allez relayer la personne à" in chosen.text
    handoff_id = created["handoffs"][0]["id"]
    relayed = await submit(
        cms.web,
        chosen.text,
        f"{page}/transmissions/{handoff_id}/relayer",
        commentaire="Relais vers la médiation pour le dossier énergie",
    )
    seen = await follow(cms.web, relayed)
    assert "Orientation relayée" in seen

    # The PIMMS accepts then takes over.
    seen = (await pimms.web.get(page)).text
    assert PERSON["last_name"] in seen  # further partners are covered by the consent
    pimms_handoff = re.search(rf"{page}/transmissions/([0-9a-f-]+)/accepter", seen)
    assert pimms_handoff
    hid = pimms_handoff.group(1)
    seen = await follow(
        pimms.web, await submit(pimms.web, seen, f"{page}/transmissions/{hid}/accepter")
    )
    assert "Confirmer la prise en charge" in seen
    seen = await follow(
        pimms.web, await submit(pimms.web, seen, f"{page}/transmissions/{hid}/prendre-en-charge")
    )
    assert "Prise en charge confirmée" in seen

    # The CCAS reads the journey in words and closes with an evaluation.
    seen = (await ccas.web.get(page)).text
    assert re.search(r"Transmise à Centre médico-social de Valence Nord le \d", seen)
    assert "relayée à PIMMS Médiation Drôme" in seen
    assert "prise en charge par PIMMS Médiation Drôme" in seen
    closed = await submit(
        ccas.web, seen, f"{page}/cloturer", issue="solution_found", note="4", commentaire="Merci"
    )
    seen = await follow(ccas.web, closed)
    assert "Votre part de l’orientation est clôturée" in seen
    assert "au plus tard le" in seen  # the referral waits for the partner's part
    assert "Prise en charge, clôture en cours." in seen
    # Every list the referral is in says the closing is under way (the CCAS's shows its relayed
    # handoff, the CMS's the one the PIMMS took over).
    for sender in (ccas, cms):
        listed = (await sender.web.get("/orientations")).text
        assert "Clôture en cours : chaque partie clôture sa part" in listed
    assert "Évaluation : 4 sur 5" in seen
    assert "Clôturer l’orientation" not in seen
    assert "Clôturer votre part" not in seen  # the CCAS's part is closed

    # The partner that took over closes and evaluates its own part afterwards.
    seen = (await pimms.web.get(page)).text
    assert "Clôturer votre part de l’orientation" in seen
    assert "L’autre partie a clôturé sa part : donnez l’issue et l’évaluation de la vôtre" in seen
    closed = await submit(pimms.web, seen, f"{page}/cloturer", issue="partial", note="3")
    seen = await follow(pimms.web, closed)
    assert "Selon la structure qui a orienté : solution trouvée" in seen
    assert "Selon le partenaire : solution partielle" in seen
    assert "Évaluation : 3 sur 5" in seen
    assert "Clôturer votre part" not in seen
    seen = (await ccas.web.get(page)).text
    assert "PIMMS Médiation Drôme a clôturé sa part (solution partielle)" in seen
    assert "Orientation terminée : chaque partie a clôturé sa part." in seen
    assert "Clôturée." in seen


async def test_refusal_needs_a_reason_and_a_comment_then_the_sender_reorients(
    web_relais: Relais,
) -> None:
    ccas, cms, pimms = [await agent(web_relais, name) for name in (CCAS, CMS, PIMMS)]
    created = await refer(web_relais, ccas, cms)
    rid, hid = created["id"], created["handoffs"][0]["id"]
    page = f"/orientations/{rid}"
    seen = (await cms.web.get(page)).text
    action = f"{page}/transmissions/{hid}/refuser"
    empty = await submit(cms.web, seen, action, motif="no_capacity", commentaire="")
    assert empty.status_code == 422
    assert 'id="refuser-commentaire-error"' in empty.text
    assert "L’action n’a pas été enregistrée" in empty.text
    no_reason = await submit(cms.web, seen, action, motif="", commentaire="Plus de place")
    assert no_reason.status_code == 422
    assert 'id="refuser-motif-error"' in no_reason.text
    assert "Plus de place" in no_reason.text  # what was typed is kept
    declined = await submit(
        cms.web, no_reason.text, action, motif="no_capacity", commentaire="Complet jusqu’en mai"
    )
    await follow(cms.web, declined)

    # The sender sees the refusal with its reason, and may re-orient.
    seen = (await ccas.web.get(page)).text
    assert "refusée (plus de place disponible)" in seen
    assert "Complet jusqu’en mai" in seen
    assert "Réorienter vers un autre partenaire" in seen
    target = await service_of(web_relais, pimms.structure_id)
    chosen = await ccas.web.get(f"{page}/reorienter", params={"service": str(target)})
    assert "ne nomme pas" in chosen.text  # the consent named the CMS only
    seen = await follow(
        ccas.web,
        await submit(ccas.web, chosen.text, f"{page}/reorienter", destinataire="1"),
    )
    assert "Orientation envoyée au nouveau partenaire" in seen
    assert "Réorientée vers PIMMS Médiation Drôme" in seen
    # The new receiver is covered: the person agreed to add it.
    assert PERSON["last_name"] in (await pimms.web.get(page)).text


async def test_someone_else_answered_first_shows_the_new_state(web_relais: Relais) -> None:
    ccas, cms = await agent(web_relais, CCAS), await agent(web_relais, CMS)
    colleague = await agent(web_relais, CMS)
    created = await refer(web_relais, ccas, cms)
    rid, hid = created["id"], created["handoffs"][0]["id"]
    page = f"/orientations/{rid}"
    mine = (await cms.web.get(page)).text
    theirs = (await colleague.web.get(page)).text
    await follow(
        colleague.web, await submit(colleague.web, theirs, f"{page}/transmissions/{hid}/accepter")
    )
    late = await submit(
        cms.web, mine, f"{page}/transmissions/{hid}/refuser", motif="other", commentaire="Non"
    )
    assert late.status_code == 409
    assert "Quelqu’un a agi sur cette orientation avant vous" in late.text
    assert 'id="conflit"' in late.text
    assert "Confirmer la prise en charge" in late.text  # the new state's buttons
    assert "Erreur inattendue" not in late.text


async def test_a_double_submission_counts_once(web_relais: Relais) -> None:
    ccas, cms = await agent(web_relais, CCAS), await agent(web_relais, CMS)
    created = await refer(web_relais, ccas, cms)
    rid, hid = created["id"], created["handoffs"][0]["id"]
    page = f"/orientations/{rid}"
    seen = (await cms.web.get(page)).text
    action = f"{page}/transmissions/{hid}/accuser-reception"
    first = await submit(cms.web, seen, action)
    again = await submit(cms.web, seen, action)  # same key, same version: the first answer
    assert first.status_code == again.status_code == 303
    timeline = await web_relais.client.get(
        f"/referrals/v1/referrals/{rid}/timeline", headers=ccas.api
    )
    types = [e["type"] for e in timeline.json()["items"]]
    assert types.count("handoff.acknowledged") == 1


async def test_what_the_consent_does_not_cover_is_said(web_relais: Relais) -> None:
    ccas, cms = await agent(web_relais, CCAS), await agent(web_relais, CMS)
    created = await refer(web_relais, ccas, cms, data_categories=["identity"])
    seen = (await cms.web.get(f"/orientations/{created['id']}")).text
    assert PERSON["last_name"] in seen
    assert PERSON["phone"] not in seen
    assert SUMMARY not in seen
    assert (
        seen.count("Données non partagées avec votre structure") == 3
    )  # contact, situation, files
    assert "Relayer vers un autre partenaire" not in seen
    assert "n’autorise pas le relais" in seen
    # The sender sees everything it recorded.
    own = (await ccas.web.get(f"/orientations/{created['id']}")).text
    assert SUMMARY in own
    assert "Données non partagées" not in own


async def test_withdrawal_says_what_is_erased_then_erases_it_everywhere(web_relais: Relais) -> None:
    ccas, cms = await agent(web_relais, CCAS), await agent(web_relais, CMS)
    created = await refer(web_relais, ccas, cms)
    page = f"/orientations/{created['id']}"
    confirm = await ccas.web.get(f"{page}/retrait")
    assert confirm.status_code == 200
    for words in (
        "Ce qui sera effacé",
        "ses coordonnées",
        "C’est définitif",
        "Centre médico-social",
    ):
        assert words in confirm.text
    assert (
        "La transmission à Centre médico-social de Valence Nord (envoyée) est annulée"
        in confirm.text
    )
    seen = await follow(ccas.web, await submit(ccas.web, confirm.text, f"{page}/retrait"))
    assert "Retrait du consentement enregistré" in seen
    for web in (ccas.web, cms.web):
        text = (await web.get(page)).text
        assert PERSON["last_name"] not in text
        assert SUMMARY not in text
        assert "ses données personnelles ont été effacées" in text


async def test_sent_list_filters_and_the_export_for_the_person(web_relais: Relais) -> None:
    ccas, cms, pimms = [await agent(web_relais, name) for name in (CCAS, CMS, PIMMS)]
    to_cms = await refer(web_relais, ccas, cms)
    to_pimms = await refer(web_relais, ccas, pimms)
    listed = await ccas.web.get("/orientations", params={"moi": "1"})
    assert listed.status_code == 200
    for created in (to_cms, to_pimms):
        assert reference(created["id"]) in listed.text
    assert ">vous<" in listed.text  # the referent, by name
    by_partner = await ccas.web.get(
        "/orientations", params={"partenaire": str(pimms.structure_id), "moi": "1"}
    )
    assert reference(to_pimms["id"]) in by_partner.text
    assert reference(to_cms["id"]) not in by_partner.text
    accepted = await ccas.web.get("/orientations", params={"etat": "acceptees", "moi": "1"})
    assert reference(to_cms["id"]) not in accepted.text
    old = await ccas.web.get("/orientations", params={"au": "2020-01-01", "moi": "1"})
    assert "Aucune orientation ne correspond à ces filtres" in old.text
    bad = await ccas.web.get("/orientations", params={"du": "hier"})
    assert "date invalide" in bad.text
    export = await ccas.web.get(f"/orientations/{to_cms['id']}/export")
    assert export.status_code == 200
    assert "attachment" in export.headers["content-disposition"]
    assert json.loads(export.content)["referral"]["person"]["last_name"] == PERSON["last_name"]


async def test_the_badge_fragment_and_referent_handover(web_relais: Relais) -> None:
    ccas, cms = await agent(web_relais, CCAS), await agent(web_relais, CMS)
    colleague = await agent(web_relais, CCAS)
    badge = await cms.web.get("/orientations/recues/badge", headers={"HX-Request": "true"})
    assert badge.text.startswith('<span id="badge-recues"')
    assert "<html" not in badge.text
    before = _count(badge.text)
    created = await refer(web_relais, ccas, cms)
    badge = await cms.web.get("/orientations/recues/badge", headers={"HX-Request": "true"})
    assert _count(badge.text) == before + 1
    page = f"/orientations/{created['id']}"
    seen = (await ccas.web.get(page)).text
    assert "Référent·e du suivi : vous" in seen
    handed = await submit(
        ccas.web,
        seen,
        f"{page}/referent",
        referent=str(await _account_id(web_relais, colleague.email)),
    )
    seen = await follow(ccas.web, handed)
    assert "Le suivi est confié à votre collègue" in seen
    assert "Référent·e du suivi : Camille Agent" in seen
    # A form without the session's CSRF token is refused.
    forged = await ccas.web.post(f"{page}/referent", data={"csrf_token": "x", "referent": "y"})
    assert forged.status_code == 400
    assert csrf_of(seen)


def _count(badge: str) -> int:
    found = re.search(r'aria-hidden="true">(\d+)', badge)
    return int(found.group(1)) if found else 0


async def _account_id(relais: Relais, email: str) -> str:
    async with relais.app("auth").state.db.session() as session:
        found = await session.scalar(sa.select(Account.id).where(Account.email == email))
    assert found is not None
    return str(found)


async def test_notification_preferences_recorded_at_sign_in_and_edited(web_relais: Relais) -> None:
    cms = await agent(web_relais, CMS)
    # Signing in gave the referrals API the person's address, with the defaults.
    recorded = await web_relais.client.get(
        "/referrals/v1/notifications/preferences", headers=cms.api
    )
    assert recorded.json() == {
        "email": cms.email,
        "mode": "off",
        "referent_events": [
            "handoff.closed",
            "handoff.declined",
            "handoff.expired",
            "handoff.taken_over",
        ],
    }
    page = await cms.web.get("/mes-notifications")
    assert page.status_code == 200
    assert f'value="{cms.email}"' in page.text
    assert re.search(r'value="handoff.taken_over" checked', page.text)
    assert not re.search(r'value="handoff.accepted" checked', page.text)
    bad = await cms.web.post(
        "/mes-notifications",
        data={"csrf_token": csrf_of(page.text), "email": "pas-une-adresse", "mode": "digest"},
    )
    assert bad.status_code == 422
    assert "adresse de courriel invalide" in bad.text
    assert 'value="pas-une-adresse"' in bad.text
    saved = await cms.web.post(
        "/mes-notifications",
        data={
            "csrf_token": csrf_of(page.text),
            "email": "accueil.cms@example.org",
            "mode": "digest",
            "referent_events": ["handoff.accepted", "handoff.declined"],
        },
    )
    text = await follow(cms.web, saved)
    assert "Vos préférences sont enregistrées" in text
    now = await web_relais.client.get("/referrals/v1/notifications/preferences", headers=cms.api)
    assert now.json() == {
        "email": "accueil.cms@example.org",
        "mode": "digest",
        "referent_events": ["handoff.accepted", "handoff.declined"],
    }


async def test_a_disabled_webhook_is_reactivated_from_integrations(web_relais: Relais) -> None:
    admin = await agent(web_relais, "PIMMS Médiation Pierrelatte", role="admin")
    created = await web_relais.client.post(
        "/referrals/v1/webhooks",
        json={"url": "https://hooks.example.org/relais", "event_types": []},
        headers=admin.api,
    )
    assert created.status_code == 201, created.text
    webhook_id = created.json()["id"]
    async with web_relais.app("referrals").state.db.session() as session:
        await session.execute(
            sa.update(WebhookSubscription)
            .where(WebhookSubscription.id == uuid.UUID(webhook_id))
            .values(status="disabled", disabled_reason="échecs répétés")
        )
    page = await admin.web.get("/integrations")
    action = f"/integrations/webhooks/{webhook_id}/reactiver"
    assert action in page.text
    text = await follow(admin.web, await submit(admin.web, page.text, action))
    assert "Le webhook est réactivé" in text
    assert action not in text
    read = await web_relais.client.get(f"/referrals/v1/webhooks/{webhook_id}", headers=admin.api)
    assert read.json()["status"] == "active"


async def test_late_then_expired_the_sender_may_reorient(web_relais: Relais) -> None:
    ccas, cms = await agent(web_relais, CCAS), await agent(web_relais, CMS)
    created = await refer(web_relais, ccas, cms)
    rid, ref = created["id"], reference(created["id"])
    async with web_relais.app("referrals").state.db.session() as session:
        await session.execute(
            sa.update(Handoff)
            .where(Handoff.referral_id == uuid.UUID(rid))
            .values(respond_by=datetime.now(UTC) - timedelta(hours=1))
        )
    inbox = (await cms.web.get("/orientations/recues")).text
    late = inbox.split('id="en-retard"')[1].split("</section>")[0]
    assert ref in late
    assert "En retard depuis le" in late
    assert ref not in inbox.split('id="nouvelles"')[1].split("</section>")[0]
    listed = (await ccas.web.get("/orientations", params={"retard": "1", "moi": "1"})).text
    assert ref in listed
    assert await worker.expire_handoffs(web_relais.app("referrals")) >= 1
    seen = (await ccas.web.get(f"/orientations/{rid}")).text
    assert "n’a pas répondu avant l’échéance" in seen
    assert "expirée sans réponse" in seen
    assert "Réorienter vers un autre partenaire" in seen
    receiver = (await cms.web.get(f"/orientations/{rid}")).text
    assert "Accepter l’orientation" not in receiver
