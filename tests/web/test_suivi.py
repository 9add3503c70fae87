"""« Où en est ma demande ? »: the person's page at each stage, the withdrawal with its
confirmation, the feedback after the end; the sending structure hands over the link (referral
page, printable receipt, e-mail when the contact is consented); and a property test: whatever
staff and the person wrote, the page shows none of it."""

from __future__ import annotations

import re
import secrets
import string
import uuid
from dataclasses import dataclass, replace
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.auth.helpers import mails_to
from tests.conftest import Relais
from tests.web.helpers import browser, csrf_of
from tests.web.orientations import PERSON, SUMMARY, Agent, agent, refer

CCAS, CMS = "CCAS de Valence", "Centre médico-social de Valence Nord"
LINK = re.compile(r"http://[^\s<\"]+/suivi/([A-Za-z0-9_-]{16,64})")


def person(relais: Relais) -> httpx.AsyncClient:
    """The person's phone: no session, their own address."""
    client = browser(relais)
    client.headers["X-Forwarded-For"] = f"2001:db8::{secrets.token_hex(2)}"
    return client


async def _act(relais: Relais, who: Agent, rid: str, action: str, body: Any = None) -> None:
    referral = (await relais.client.get(f"/referrals/v1/referrals/{rid}", headers=who.api)).json()
    handoff = next(h for h in referral["handoffs"] if h["state"] not in ("declined",))
    response = await relais.client.post(
        f"/referrals/v1/referrals/{rid}/handoffs/{handoff['id']}/{action}",
        json=body,
        headers={**who.api, "If-Match": f'"{handoff["version"]}"'},
    )
    assert response.status_code == 200, response.text


async def _close(relais: Relais, sender: Agent, rid: str, comment: str = "Très bien") -> None:
    response = await relais.client.post(
        f"/referrals/v1/referrals/{rid}/close",
        json={"outcome": "solution_found", "evaluation_comment": comment},
        headers=sender.api,
    )
    assert response.status_code == 200, response.text


async def test_the_page_at_each_stage_in_plain_french(web_relais: Relais) -> None:
    ccas, cms = await agent(web_relais, CCAS), await agent(web_relais, CMS)
    created = await refer(web_relais, ccas, cms)
    rid, code = created["id"], created["follow_up_code"]
    phone = person(web_relais)
    page = await phone.get(f"/suivi/{code}")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text  # nothing to run: works with JavaScript off
    assert "Où en est ma demande ?" in page.text
    assert f"Votre demande est chez <strong>{CMS}</strong>" in page.text
    assert "Vous aurez une réponse avant le" in page.text
    assert "Qui appeler ?" in page.text
    assert CCAS in page.text
    assert 'href="/suivi/' + code + '/retrait"' in page.text

    await _act(web_relais, cms, rid, "accept")
    assert "a dit oui à votre demande" in (await phone.get(f"/suivi/{code}")).text
    await _act(web_relais, cms, rid, "take-over")
    assert "s’occupe de vous" in (await phone.get(f"/suivi/{code}")).text
    await _close(web_relais, ccas, rid)
    ended = (await phone.get(f"/suivi/{code}")).text
    assert "Votre demande est terminée." in ended
    assert "Avez-vous trouvé une solution ?" in ended
    for value in (PERSON["first_name"], PERSON["last_name"], SUMMARY, "Très bien"):
        assert value not in ended

    # Feedback: a choice is needed; then thanks, once.
    empty = await phone.post(f"/suivi/{code}/avis", data={"commentaire": "Merci"})
    assert empty.status_code == 400
    assert "Choisissez une réponse" in empty.text
    sent = await phone.post(
        f"/suivi/{code}/avis", data={"reponse": "en_partie", "commentaire": "Long"}
    )
    assert sent.status_code == 303
    thanked = await phone.get(sent.headers["location"])
    assert "Merci pour votre réponse." in thanked.text
    assert "Avez-vous trouvé une solution ?" not in thanked.text
    assert "Vous avez répondu : en partie." in thanked.text


async def test_searching_and_unknown_links(web_relais: Relais) -> None:
    ccas, cms = await agent(web_relais, CCAS), await agent(web_relais, CMS)
    created = await refer(web_relais, ccas, cms)
    await _act(
        web_relais, cms, created["id"], "decline", {"reason": "out_of_scope", "comment": "Non"}
    )
    phone = person(web_relais)
    page = (await phone.get(f"/suivi/{created['follow_up_code']}")).text
    assert "La structure choisie ne peut pas vous aider." in page
    assert "cherche une autre structure pour vous" in page
    unknown = await phone.get(f"/suivi/{secrets.token_urlsafe(16)}")
    assert unknown.status_code == 404
    assert "Ce lien ne marche pas" in unknown.text


async def test_the_person_withdraws_with_a_clear_confirmation(web_relais: Relais) -> None:
    ccas, cms = await agent(web_relais, CCAS), await agent(web_relais, CMS)
    created = await refer(web_relais, ccas, cms)
    rid, code = created["id"], created["follow_up_code"]
    phone = person(web_relais)
    confirm = await phone.get(f"/suivi/{code}/retrait")
    assert confirm.status_code == 200
    text = confirm.text
    assert "Ce qui sera effacé" in text
    assert "votre nom" in text
    assert "Qui sera prévenu" in text
    assert CCAS in text
    assert CMS in text
    assert "Vous ne pourrez pas revenir en arrière." in text
    done = await phone.post(f"/suivi/{code}/retrait")
    assert done.status_code == 303
    assert done.headers["location"] == "/suivi/retrait-confirme"
    final = await phone.get(done.headers["location"])
    assert "Votre accord est retiré" in final.text
    for value in (PERSON["first_name"], PERSON["last_name"], CCAS, CMS, code):
        assert value not in final.text
    # The same withdrawal as staff record: the sender sees the data erased.
    seen = await web_relais.client.get(f"/referrals/v1/referrals/{rid}", headers=ccas.api)
    assert seen.json()["status"] == "withdrawn"
    assert seen.json()["person"] is None
    history = (await ccas.web.get(f"/orientations/{rid}")).text
    assert "La personne a retiré son consentement depuis son lien de suivi" in history
    after = (await phone.get(f"/suivi/{code}")).text
    assert "Vous avez retiré votre accord." in after
    assert "Je retire mon accord" not in after


async def test_the_sender_hands_over_the_link(web_relais: Relais) -> None:
    ccas, cms = await agent(web_relais, CCAS), await agent(web_relais, CMS)
    address = f"personne-{uuid.uuid4().hex[:8]}@example.org"
    created = await refer(web_relais, ccas, cms)
    rid = created["id"]
    page = (await ccas.web.get(f"/orientations/{rid}")).text
    assert "Suivi par la personne" in page
    assert "Créer un nouveau lien de suivi" in page
    assert LINK.search(page) is None  # the first code went to the API caller only

    renewed = await ccas.web.post(
        f"/orientations/{rid}/suivi/nouveau", data={"csrf_token": csrf_of(page)}
    )
    assert renewed.status_code == 303
    shown = (await ccas.web.get(renewed.headers["location"])).text
    found = LINK.search(shown)
    assert found is not None
    code = found.group(1)
    assert "Texte à envoyer par SMS" in shown
    assert "Nouveau lien de suivi créé" in shown
    assert "Envoyer le lien par courriel" not in shown  # no e-mail address was given
    # The old code no longer works; the new one does.
    phone = person(web_relais)
    assert (await phone.get(f"/suivi/{created['follow_up_code']}")).status_code == 404
    assert (await phone.get(f"/suivi/{code}")).status_code == 200
    receipt = (await ccas.web.get(f"/orientations/{rid}/recepisse")).text
    assert f"/suivi/{code}" in receipt
    # The receiving partner never sees it.
    assert "Suivi par la personne" not in (await cms.web.get(f"/orientations/{rid}")).text

    # Without the contact in the consent: the link only (to print or write down).
    no_contact = await refer(web_relais, ccas, cms, data_categories=["identity"])
    page = (await ccas.web.get(f"/orientations/{no_contact['id']}")).text
    renewed = await ccas.web.post(
        f"/orientations/{no_contact['id']}/suivi/nouveau", data={"csrf_token": csrf_of(page)}
    )
    shown = (await ccas.web.get(renewed.headers["location"])).text
    assert LINK.search(shown) is not None
    assert "Texte à envoyer par SMS" not in shown
    assert "Envoyer le lien par courriel" not in shown

    # With an e-mail address in the consented contact: sent by e-mail on request.
    with_mail = await refer(web_relais, ccas, cms)
    response = await web_relais.client.post(
        f"/referrals/v1/referrals/{with_mail['id']}/consent/withdraw", headers=ccas.api
    )
    assert response.status_code == 200
    body = {
        "person": {**PERSON, "email": address, "contact_method": "email"},
        "need": {"thematiques": [created["need"]["thematiques"][0]], "channel": "walk_in"},
        "consent": {
            "given_by": "person",
            "method": "oral",
            "purpose": "Trouver une aide",
            "data_categories": ["identity", "contact"],
            "recipients": [str(cms.structure_id)],
        },
        "target": {"structure_id": str(cms.structure_id)},
    }
    made = await web_relais.client.post("/referrals/v1/referrals", json=body, headers=ccas.api)
    assert made.status_code == 201, made.text
    mid = made.json()["id"]
    page = (await ccas.web.get(f"/orientations/{mid}")).text
    renewed = await ccas.web.post(
        f"/orientations/{mid}/suivi/nouveau", data={"csrf_token": csrf_of(page)}
    )
    shown = (await ccas.web.get(renewed.headers["location"])).text
    assert f"Envoyer le lien par courriel à {address}" in shown
    mailed = await ccas.web.post(
        f"/orientations/{mid}/suivi/courriel", data={"csrf_token": csrf_of(shown)}
    )
    assert mailed.status_code == 303
    assert "lien-suivi-envoye" in mailed.headers["location"]
    messages = mails_to(web_relais.settings.home, address)
    assert len(messages) == 1
    text = messages[0].get_payload(decode=True).decode()  # type: ignore[union-attr]
    found = LINK.search(text)
    assert found is not None
    assert PERSON["last_name"] not in text


# ---- Property: the page never shows what staff or the person wrote ----------------------------

MARKER = st.text(alphabet=string.ascii_letters, min_size=8, max_size=16).map(lambda s: f"Zq{s}")
STAGES = ("waiting", "accepted", "taken_over", "searching", "closed", "withdrawn")


@dataclass(frozen=True)
class Written:
    first_name: str
    last_name: str
    summary: str
    purpose: str
    referent: str
    comments: tuple[str, str]
    evaluation: str
    stage: str

    def values(self) -> list[str]:
        return [
            self.first_name,
            self.last_name,
            self.summary,
            self.purpose,
            self.referent,
            *self.comments,
            self.evaluation,
        ]


def _cases(count: int) -> list[Written]:
    found: list[Written] = []

    @given(
        w=st.builds(
            Written,
            first_name=MARKER,
            last_name=MARKER,
            summary=MARKER,
            purpose=MARKER,
            referent=MARKER,
            comments=st.tuples(MARKER, MARKER),
            evaluation=MARKER,
            stage=st.sampled_from(STAGES),
        )
    )
    @settings(
        max_examples=count,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def collect(w: Written) -> None:
        found.append(w)

    collect()
    # Every stage, in turn (hypothesis draws what is written; each stage gets its share).
    return [replace(w, stage=STAGES[i % len(STAGES)]) for i, w in enumerate(found)]


async def test_the_page_never_shows_what_it_was_not_given(web_relais: Relais) -> None:
    ccas, cms = await agent(web_relais, CCAS), await agent(web_relais, CMS)
    cases = _cases(18)
    assert {c.stage for c in cases} == set(STAGES)
    for case in cases:
        body = {
            "person": {
                "first_name": case.first_name,
                "last_name": case.last_name,
                "contact_method": "phone",
                "phone": "06 55 44 33 22",
            },
            "need": {
                "thematiques": ["logement-hebergement--se-maintenir-dans-le-logement"],
                "summary": case.summary,
                "channel": "walk_in",
            },
            "consent": {
                "given_by": "person",
                "method": "oral",
                "purpose": case.purpose,
                "data_categories": ["identity", "contact", "situation"],
                "recipients": [str(cms.structure_id)],
            },
            "referent": case.referent,
            "target": {"structure_id": str(cms.structure_id)},
        }
        made = await web_relais.client.post("/referrals/v1/referrals", json=body, headers=ccas.api)
        assert made.status_code == 201, made.text
        rid, code = made.json()["id"], made.json()["follow_up_code"]
        first, second = case.comments
        if case.stage == "searching":
            await _act(
                web_relais, cms, rid, "decline", {"reason": "out_of_scope", "comment": first}
            )
        elif case.stage == "withdrawn":
            await _act(web_relais, cms, rid, "acknowledge", {"comment": first})
            withdrawn = await person(web_relais).post(f"/suivi/{code}/retrait")
            assert withdrawn.status_code == 303
        elif case.stage != "waiting":
            await _act(web_relais, cms, rid, "accept", {"comment": first})
            if case.stage in ("taken_over", "closed"):
                await _act(web_relais, cms, rid, "take-over", {"comment": second})
            if case.stage == "closed":
                await _close(web_relais, ccas, rid, case.evaluation)
        phone = person(web_relais)
        pages = [await phone.get(f"/suivi/{code}")]
        if case.stage != "withdrawn":
            pages.append(await phone.get(f"/suivi/{code}/retrait"))
        for page in pages:
            assert page.status_code == 200, (case, page.text)
            for value in (*case.values(), "06 55 44 33 22", "+33655443322", ccas.email, cms.email):
                assert value not in page.text, (case.stage, value)
