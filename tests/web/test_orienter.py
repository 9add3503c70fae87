"""« Orienter une personne » over HTTP, as a browser without JavaScript: from a fiche and from
scratch (partner found in the annuaire inside the flow), the API's messages back on the right
step, documents, the consent receipt, and « Envoyer » twice (in a row and at once) → one
referral."""

from __future__ import annotations

import asyncio
import html
import re
import uuid
from dataclasses import dataclass
from datetime import date

import httpx
import sqlalchemy as sa
from markupsafe import escape

from services.directory.models import Service, Structure
from services.referrals import models as rm
from services.web.models import DraftDocument, ReferralDraft
from tests.conftest import Relais
from tests.web.helpers import csrf_of, demo_structure, sign_in

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
DRAFT_URL = re.compile(r"^/orienter/([0-9a-f-]{36})/(\w+)")
# A consent lasts at most ten years: these tests' consents end within two.
EXPIRY_YEAR = date.today().year + 2


@dataclass
class Target:
    structure_id: uuid.UUID
    structure_name: str
    service_id: uuid.UUID
    service_name: str
    thematiques: list[str]


async def a_target(relais: Relais, not_of: uuid.UUID, skip: int = 0) -> Target:
    """A published service of another structure that takes referrals now."""
    async with relais.app("directory").state.db.session() as session:
        row = (
            await session.execute(
                sa.select(Service, Structure.name)
                .join(Structure, Structure.id == Service.structure_id)
                .where(
                    Service.status == "published",
                    Service.accepts_referrals.is_(True),
                    Service.capacity_status != "full",
                    Structure.status == "published",
                    Structure.accepts_referrals.is_(True),
                    Structure.id != not_of,
                )
                .order_by(Service.name)
                .offset(skip)
                .limit(1)
            )
        ).first()
    assert row is not None
    service, structure_name = row
    return Target(
        service.structure_id, structure_name, service.id, service.name, list(service.thematiques)
    )


async def referrals_of(
    relais: Relais, structure_id: uuid.UUID, besides: set[uuid.UUID] | None = None
) -> list[rm.Referral]:
    """The structure's referrals, except those already there (``besides``)."""
    async with relais.app("referrals").state.db.session() as session:
        found = (
            await session.scalars(
                sa.select(rm.Referral).where(rm.Referral.structure_id == structure_id)
            )
        ).all()
    return [r for r in found if r.id not in (besides or set())]


async def ids_of(relais: Relais, structure_id: uuid.UUID) -> set[uuid.UUID]:
    return {r.id for r in await referrals_of(relais, structure_id)}


async def start(b: httpx.AsyncClient, service_id: uuid.UUID | None = None) -> uuid.UUID:
    page = await b.get("/orienter", params={"service": str(service_id)} if service_id else {})
    assert page.status_code == 200, page.text
    assert "Commencer" in page.text
    data = {"csrf_token": csrf_of(page.text)}
    if service_id:
        data["service_id"] = str(service_id)
    begun = await b.post("/orienter", data=data)
    assert begun.status_code == 303, begun.text
    match = DRAFT_URL.match(begun.headers["location"])
    assert match
    assert match.group(2) == "personne"
    return uuid.UUID(match.group(1))


async def post_step(
    b: httpx.AsyncClient,
    draft: uuid.UUID,
    step: str,
    data: dict[str, str | list[str]],
    expect: int = 303,
) -> httpx.Response:
    page = await b.get(f"/orienter/{draft}/{step}")
    assert page.status_code == 200, page.text
    done = await b.post(
        f"/orienter/{draft}/{step}", data={**data, "csrf_token": csrf_of(page.text)}
    )
    assert done.status_code == expect, done.text
    return done


PERSON = {
    "first_name": "Mireille",
    "last_name": "Testpersonne",
    "birth_year": "1961",
    "contact_method": "phone",
    "phone": "06 12 34 56 78",
    "preferred_language": "fr",
}


async def test_orient_from_a_fiche_with_consent_a_document_and_a_receipt(
    web_relais: Relais,
) -> None:
    sender = await demo_structure(web_relais)
    target = await a_target(web_relais, sender)
    before = await ids_of(web_relais, sender)
    b, _ = await sign_in(web_relais, sender, role="member")
    fiche = await b.get(f"/services/{target.service_id}")
    assert f'href="/orienter?service={target.service_id}"' in fiche.text
    draft = await start(b, target.service_id)

    # The person: nothing typed → the form says what is missing, on the same page.
    empty = await post_step(b, draft, "personne", {"first_name": " "}, expect=422)
    assert empty.status_code == 422
    assert "indiquez un prénom, un nom ou un pseudonyme" in empty.text
    assert 'href="#f-identite"' in empty.text
    done = await post_step(b, draft, "personne", PERSON)
    assert done.status_code == 303
    assert done.headers["location"] == f"/orienter/{draft}/besoin"
    # What the person said stays server-side, sealed; never in a URL.
    async with web_relais.app("web").state.db.session() as session:
        row = await session.get(ReferralDraft, draft)
        assert row is not None
        assert "Testpersonne" not in row.values

    # The need: the service's thematiques are proposed; « courrier » is a channel.
    need_page = await b.get(f"/orienter/{draft}/besoin")
    sub = [t for t in target.thematiques if "--" in t]
    for thematique in sub:
        assert re.search(rf'value="{thematique}" checked', need_page.text)
    assert "courrier" in need_page.text
    done = await post_step(
        b,
        draft,
        "besoin",
        {
            "thematiques": sub or ["logement-hebergement--se-maintenir-dans-le-logement"],
            "summary": "Lettre d’expulsion reçue, rendez-vous souhaité.",
            "urgency": "high",
            "channel": "postal",
            "age_band": "60_74",
            "sex": "female",
        },
    )
    # The partner is known (from the fiche): straight to the consent.
    assert done.headers["location"] == f"/orienter/{draft}/consentement"

    # The consent proposes the target as a recipient, by name, checked.
    consent_page = await b.get(f"/orienter/{draft}/consentement")
    assert re.search(rf'value="{target.structure_id}" checked', consent_page.text)
    assert target.structure_name.replace("'", "&#39;") in consent_page.text
    bad_day = await post_step(
        b,
        draft,
        "consentement",
        {"given_by": "person", "method": "oral", "purpose": "", "expires_on": "demain"},
        expect=422,
    )
    assert bad_day.status_code == 422
    assert "indiquez dans quel but" in bad_day.text
    assert "date invalide" in bad_day.text
    done = await post_step(
        b,
        draft,
        "consentement",
        {
            "given_by": "person",
            "method": "written",
            "purpose": "Étudier sa demande de logement et la recevoir",
            "data_categories": ["identity", "contact", "situation", "documents"],
            "recipients": [str(target.structure_id)],
            "onward_relay_allowed": "1",
            "expires_on": f"{EXPIRY_YEAR}-06-30",
        },
    )
    assert done.headers["location"] == f"/orienter/{draft}/documents"

    # Documents: a PDF is joined; a text file is refused with the reason.
    docs = await b.get(f"/orienter/{draft}/documents")
    token = csrf_of(docs.text)
    refused = await b.post(
        f"/orienter/{draft}/documents",
        data={"csrf_token": token, "action": "joindre"},
        files={"document": ("notes.txt", b"pas un document", "text/plain")},
    )
    assert refused.status_code == 422
    assert "PDF, PNG ou JPEG seulement" in refused.text
    joined = await b.post(
        f"/orienter/{draft}/documents",
        data={"csrf_token": token, "action": "joindre"},
        files={"document": ("courrier-bailleur.pdf", PDF, "application/pdf")},
    )
    assert joined.status_code == 303
    assert "courrier-bailleur.pdf" in (await b.get(f"/orienter/{draft}/documents")).text
    forged = await b.post(
        f"/orienter/{draft}/documents",
        data={"csrf_token": "x" * 32, "action": "continuer"},
        files={"document": ("a.pdf", PDF, "application/pdf")},
    )
    assert forged.status_code == 400
    go_on = await b.post(
        f"/orienter/{draft}/documents", data={"csrf_token": token, "action": "continuer"}
    )
    assert go_on.headers["location"] == f"/orienter/{draft}/verification"

    # The review says everything in words.
    review = await b.get(f"/orienter/{draft}/verification")
    assert review.status_code == 200
    expected = ("Mireille", "courrier", "écrit", f"30 juin {EXPIRY_YEAR}", "courrier-bailleur.pdf")
    for text in expected:
        assert text in review.text, text
    sent = await b.post(f"/orienter/{draft}/envoyer", data={"csrf_token": csrf_of(review.text)})
    assert sent.status_code == 303, sent.text
    match = re.match(r"^/orientations/([0-9a-f-]{36})$", sent.headers["location"])
    assert match, sent.headers["location"]
    referral_id = uuid.UUID(match.group(1))
    # A reload of « Envoyer » and the step pages land on the same referral; nothing new.
    again = await b.post(f"/orienter/{draft}/envoyer", data={"csrf_token": csrf_of(review.text)})
    assert again.headers["location"] == sent.headers["location"]
    back = await b.get(f"/orienter/{draft}/personne")
    assert back.headers["location"] == sent.headers["location"]
    mine = await referrals_of(web_relais, sender, before)
    assert [r.id for r in mine] == [referral_id]
    referral = mine[0]
    assert referral.channel == "postal"
    assert referral.consent_recipients == [str(target.structure_id)]
    async with web_relais.app("referrals").state.db.session() as session:
        attached = await session.scalar(
            sa.select(sa.func.count())
            .select_from(rm.Attachment)
            .where(rm.Attachment.referral_id == referral_id)
        )
    assert attached == 1
    # Sent: the web app keeps nothing of the person.
    async with web_relais.app("web").state.db.session() as session:
        row = await session.get(ReferralDraft, draft)
        assert row is not None
        assert row.values == ""
        assert row.referral_id == referral_id
        left = await session.scalar(
            sa.select(sa.func.count())
            .select_from(DraftDocument)
            .where(DraftDocument.draft_id == draft)
        )
        assert left == 0

    # Right after sending, the person's follow-up link is shown (once) to hand over.
    shown = await b.get(sent.headers["location"])
    found = re.search(r"/suivi/([A-Za-z0-9_-]{16,64})", shown.text)
    assert found, "no follow-up link after sending"
    assert "Texte à envoyer par SMS" in shown.text

    # The receipt, for the person: who sees what, for what, until when, how to withdraw.
    receipt = await b.get(f"/orientations/{referral_id}/recepisse")
    assert receipt.status_code == 200
    text = receipt.text
    assert f"/suivi/{found.group(1)}" in text
    for expected in (
        "Récépissé de consentement",
        "Remis à Mireille Testpersonne",
        "Étudier sa demande de logement et la recevoir",
        f"Jusqu’au 30 juin {EXPIRY_YEAR}",
        "Comment retirer votre accord",
        "peut transmettre votre demande",
        "Coordonnées (téléphone",
    ):
        assert expected in text, expected
    assert target.structure_name.replace("'", "&#39;") in text
    # Who receives it: the service and its structure, not a service's name alone.
    receiver = f"au service « {target.service_name} » de {target.structure_name}"
    assert str(escape(receiver)) in text  # as Jinja writes it
    assert 'src="/static/imprimer.js' in text
    # Another structure's member cannot print it.
    other, _ = await sign_in(web_relais, target.structure_id, role="member")
    assert (await other.get(f"/orientations/{referral_id}/recepisse")).status_code == 403


async def test_from_scratch_partner_found_in_the_flow_and_api_messages_on_their_step(
    web_relais: Relais,
) -> None:
    sender = await demo_structure(web_relais)
    target = await a_target(web_relais, sender)
    extra = await a_target(web_relais, target.structure_id, skip=3)
    before = await ids_of(web_relais, sender)
    b, _ = await sign_in(web_relais, sender, role="member")
    draft = await start(b)
    # A phone number the API refuses: the form accepts it, the API will say why.
    await post_step(b, draft, "personne", {"pseudonym": "M. B.", "phone": "1234"})
    done = await post_step(
        b,
        draft,
        "besoin",
        {"thematiques": ["famille--garde-denfants"], "channel": "walk_in"},
    )
    assert done.headers["location"] == f"/orienter/{draft}/partenaire"
    # With nothing typed, the services of the need's thematiques are listed.
    listed = await b.get(f"/orienter/{draft}/partenaire")
    assert "Services des thématiques de la demande" in listed.text
    found = await b.get(
        f"/orienter/{draft}/partenaire", params={"q": target.service_name[:40], "pour": "cible"}
    )
    assert f'name="service_id" value="{target.service_id}"' in found.text
    chosen = await b.post(
        f"/orienter/{draft}/partenaire",
        data={
            "csrf_token": csrf_of(found.text),
            "service_id": str(target.service_id),
            "pour": "cible",
        },
    )
    assert chosen.headers["location"] == f"/orienter/{draft}/consentement"
    # Another partner named in the consent, found the same way, shown by name.
    consent = await b.get(f"/orienter/{draft}/consentement")
    # The chosen partner is proposed among the recipients, checked.
    assert re.search(
        rf'id="f-rec-cible" name="recipients" value="{target.structure_id}" checked', consent.text
    )
    to_search = await b.post(
        f"/orienter/{draft}/consentement",
        data={
            "csrf_token": csrf_of(consent.text),
            "purpose": "Garde d’enfants",
            "recipients": [str(target.structure_id)],
            "aller": "destinataire",
        },
    )
    assert to_search.headers["location"] == f"/orienter/{draft}/partenaire?pour=destinataire"
    added = await b.post(
        f"/orienter/{draft}/partenaire",
        data={
            "csrf_token": csrf_of(consent.text),
            "service_id": str(extra.service_id),
            "pour": "destinataire",
        },
    )
    assert added.headers["location"].startswith(f"/orienter/{draft}/consentement")
    consent = await b.get(f"/orienter/{draft}/consentement")
    assert "Garde d’enfants" in consent.text  # what was typed before the search is kept
    assert re.search(rf'value="{extra.structure_id}" checked', consent.text)
    # Unchecked, the chosen partner could not receive the request: the step says so.
    refused = await post_step(
        b,
        draft,
        "consentement",
        {
            "given_by": "person",
            "method": "oral",
            "purpose": "Garde d’enfants",
            "data_categories": ["identity", "contact"],
            "recipients": [str(extra.structure_id)],
            "expires_on": f"{EXPIRY_YEAR}-01-01",
        },
        expect=422,
    )
    assert f"cochez {html.escape(target.structure_name)} : la demande ne peut lui être envoyée" in (
        refused.text
    )
    done = await post_step(
        b,
        draft,
        "consentement",
        {
            "given_by": "person",
            "method": "oral",
            "purpose": "Garde d’enfants",
            "data_categories": ["identity", "contact"],
            "recipients": [str(target.structure_id), str(extra.structure_id)],
            "expires_on": f"{EXPIRY_YEAR}-01-01",
        },
    )
    docs = await b.get(f"/orienter/{draft}/documents")
    await b.post(
        f"/orienter/{draft}/documents",
        data={"csrf_token": csrf_of(docs.text), "action": "continuer"},
    )
    review = await b.get(f"/orienter/{draft}/verification")
    assert "Mireille" not in review.text
    # The API refuses the phone: back to the person's step, its message next to the field.
    refused = await b.post(f"/orienter/{draft}/envoyer", data={"csrf_token": csrf_of(review.text)})
    assert refused.status_code == 303
    assert refused.headers["location"] == f"/orienter/{draft}/personne?retour=verification"
    person = await b.get(refused.headers["location"])
    assert "numéro de téléphone invalide" in person.text
    assert 'id="f-phone" name="phone" type="tel" value="1234"' in person.text
    assert await referrals_of(web_relais, sender, before) == []
    fixed = await b.post(
        f"/orienter/{draft}/personne",
        data={
            "csrf_token": csrf_of(person.text),
            "pseudonym": "M. B.",
            "phone": "0612345678",
            "retour": "verification",
        },
    )
    assert fixed.headers["location"] == f"/orienter/{draft}/verification"
    review = await b.get(fixed.headers["location"])
    sent = await b.post(f"/orienter/{draft}/envoyer", data={"csrf_token": csrf_of(review.text)})
    assert sent.headers["location"].startswith("/orientations/")
    [referral] = await referrals_of(web_relais, sender, before)
    assert set(referral.consent_recipients) == {str(target.structure_id), str(extra.structure_id)}


async def test_two_envoyer_at_once_send_one_referral(web_relais: Relais) -> None:
    sender = await demo_structure(web_relais, "Mission")
    target = await a_target(web_relais, sender, skip=1)
    before = await ids_of(web_relais, sender)
    b, _ = await sign_in(web_relais, sender, role="member")
    draft = await start(b, target.service_id)
    await post_step(b, draft, "personne", {"first_name": "Jo"})
    await post_step(
        b,
        draft,
        "besoin",
        {
            "thematiques": ["numerique--acceder-a-des-services-en-ligne"],
            "channel": "phone",
        },
    )
    await post_step(
        b,
        draft,
        "consentement",
        {
            "given_by": "person",
            "method": "oral",
            "purpose": "Démarches en ligne",
            "recipients": [str(target.structure_id)],
            "expires_on": f"{EXPIRY_YEAR}-01-01",
        },
    )
    docs = await b.get(f"/orienter/{draft}/documents")
    token = csrf_of(docs.text)
    await b.post(
        f"/orienter/{draft}/documents",
        data={"csrf_token": token, "action": "joindre"},
        files={"document": ("piece.pdf", PDF, "application/pdf")},
    )
    # A double click: two POSTs of the same form, at the same time.
    first, second = await asyncio.gather(
        b.post(f"/orienter/{draft}/envoyer", data={"csrf_token": token}),
        b.post(f"/orienter/{draft}/envoyer", data={"csrf_token": token}),
    )
    assert first.status_code == second.status_code == 303, (first.text, second.text)
    assert first.headers["location"] == second.headers["location"]
    mine = await referrals_of(web_relais, sender, before)
    assert len(mine) == 1
    async with web_relais.app("referrals").state.db.session() as session:
        attached = await session.scalar(
            sa.select(sa.func.count())
            .select_from(rm.Attachment)
            .where(rm.Attachment.referral_id == mine[0].id)
        )
    assert attached == 1


async def test_a_draft_belongs_to_its_session_and_ends_with_it(web_relais: Relais) -> None:
    sender = await demo_structure(web_relais)
    b, _ = await sign_in(web_relais, sender, role="member")
    draft = await start(b)
    await post_step(b, draft, "personne", {"first_name": "Jo"})
    # Another person of the same structure cannot open it.
    other, _ = await sign_in(web_relais, sender, role="member")
    assert (await other.get(f"/orienter/{draft}/personne")).status_code == 404
    # Anonymous: to the sign-in.
    anonymous = await b.get("/")
    assert anonymous.status_code == 200
    # « Abandonner » erases it; signing out would too (the session's drafts go with it).
    page = await b.get(f"/orienter/{draft}/personne")
    gone = await b.post(f"/orienter/{draft}/abandonner", data={"csrf_token": csrf_of(page.text)})
    assert gone.headers["location"] == "/orienter?abandon=1"
    assert "rien n’a été envoyé" in (await b.get(gone.headers["location"])).text
    assert (await b.get(f"/orienter/{draft}/personne")).status_code == 404
    second = await start(b)
    home = await b.get("/")
    await b.post("/deconnexion", data={"csrf_token": csrf_of(home.text)})
    async with web_relais.app("web").state.db.session() as session:
        assert await session.get(ReferralDraft, second) is None
