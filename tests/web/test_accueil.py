"""Accueil: the counts of handoffs to answer and overdue (the inbox count of the API), and my
structure's entries to review (the directory's review list), capacity confirmed in one click."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import sqlalchemy as sa

from services.kernel.clock import utcnow
from services.referrals import models as rm
from tests.conftest import Relais
from tests.web.helpers import csrf_of
from tests.web.orientations import agent, refer

RECEIVER = "CCAS de Nyons"
SENDER = "France Services Nyons"


def counts(page: str) -> tuple[int, int]:
    waiting = re.search(r'<span class="number">(\d+)</span> demandes? en attente', page)
    late = re.search(r'<span class="number">(\d+)</span> en retard', page)
    assert waiting, "no count of handoffs to answer"
    assert late, "no count of overdue handoffs"
    return int(waiting.group(1)), int(late.group(1))


async def test_home_counts_handoffs_to_answer_and_overdue(web_relais: Relais) -> None:
    receiver = await agent(web_relais, RECEIVER, "admin")
    sender = await agent(web_relais, SENDER)
    waiting, late = counts((await receiver.web.get("/")).text)
    created = await refer(web_relais, sender, receiver)
    assert counts((await receiver.web.get("/")).text) == (waiting + 1, late)
    # Its answer deadline passes: overdue too.
    async with web_relais.app("referrals").state.db.session() as session:
        await session.execute(
            sa.update(rm.Handoff)
            .where(rm.Handoff.id == uuid.UUID(created["handoffs"][0]["id"]))
            .values(respond_by=utcnow() - timedelta(hours=1))
        )
    assert counts((await receiver.web.get("/")).text) == (waiting + 1, late + 1)


async def test_home_lists_entries_to_review_and_confirms_capacity(web_relais: Relais) -> None:
    me = await agent(web_relais, RECEIVER, "admin")
    home = await me.web.get("/")
    assert "Fiches de ma structure à revoir" in home.text
    # Demo services never had their capacity stated here: each asks for it, with one click.
    forms = re.findall(r'action="/ma-structure/capacite/([0-9a-f-]{36})"', home.text)
    assert forms, home.text
    assert "disponibilité pas indiquée depuis plus d’un mois" in home.text
    service_id = forms[0]
    confirmed = await me.web.post(
        f"/ma-structure/capacite/{service_id}",
        data={"csrf_token": csrf_of(home.text), "capacity_status": "waiting_list", "retour": "/"},
    )
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == "/?message=capacite"
    after = await me.web.get(confirmed.headers["location"])
    assert "Disponibilité mise à jour" in after.text
    assert f"/ma-structure/capacite/{service_id}" not in after.text
    fiche = await me.web.get(f"/services/{service_id}")
    assert "Liste d’attente" in fiche.text
    # A member sees the same list, with links to the fiches and no edit form.
    member = await agent(web_relais, RECEIVER, "member")
    seen = await member.web.get("/")
    assert "Fiches de ma structure à revoir" in seen.text
    assert "/ma-structure/capacite/" not in seen.text
