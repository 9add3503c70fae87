"""Mail notifications through a local SMTP server (aiosmtpd) started by the tests, and .eml
files in the embedded default. French templates, who gets what, no personal data."""

from __future__ import annotations

import email
import email.policy
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from services.referrals import background, worker
from services.referrals import models as m
from services.referrals.notifications import sending
from services.referrals.notifications.render import reference, render
from tests.conftest import BACKENDS, free_port, start_relais
from tests.referrals.conftest import PERSONAL_VALUES, World, act, create_referral
from tests.tokens import TokenFactory

DEFAULTS = ["handoff.closed", "handoff.declined", "handoff.expired", "handoff.taken_over"]


@dataclass
class Sink:
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [msg for rcpt, msg in self.messages if address in rcpt]


@dataclass
class MailWorld:
    world: World
    sink: Sink


@pytest.fixture(scope="module", params=BACKENDS)
async def mail(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tokens: TokenFactory
) -> AsyncIterator[MailWorld]:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    home = tmp_path_factory.mktemp(f"mail-{request.param}")
    try:
        system, stack = await start_relais(
            request.param, home, tokens, smtp_url=f"smtp://127.0.0.1:{port}"
        )
        async with stack:
            yield MailWorld(World(system), sink)
    finally:
        controller.stop()


async def prefer(
    world: World,
    headers: dict[str, str],
    address: str,
    mode: str,
    referent_events: list[str] | None = None,
) -> None:
    body: dict[str, Any] = {"email": address, "mode": mode}
    if referent_events is not None:
        body["referent_events"] = referent_events
    response = await world.client.put(
        "/referrals/v1/notifications/preferences", json=body, headers=headers
    )
    assert response.status_code == 200, response.text
    expected = sorted(referent_events) if referent_events is not None else sorted(DEFAULTS)
    assert response.json() == {"email": address, "mode": mode, "referent_events": expected}


async def flush(world: World) -> int:
    await background.dispatch_outbox(world.app())
    return await background.send_mail(world.app())


def text_of(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None
    assert html is not None
    return plain.get_content(), html.get_content()


def assert_no_personal_data(message: EmailMessage) -> None:
    raw = message.as_string()
    for value in (*PERSONAL_VALUES, "RDV", "Complet"):
        assert value not in raw


async def test_who_gets_what(mail: MailWorld) -> None:
    world, sink = mail.world, mail.sink
    ccas, partner = await world.org("CCAS"), await world.org("Partenaire")
    tag = uuid.uuid4().hex[:6]
    referent, receiver_member = f"referent-{tag}@ccas.example", f"accueil-{tag}@partner.example"
    await prefer(world, ccas.member, referent, "off", [*DEFAULTS, "handoff.acknowledged"])
    await prefer(world, partner.member, receiver_member, "immediate")

    created = await create_referral(world, ccas, partner)
    ref = reference(uuid.UUID(created["id"]))
    await flush(world)
    received = sink.to(receiver_member)
    assert len(received) == 1
    message = received[0]
    assert message["Subject"] == f"Nouvelle orientation reçue ({ref})"
    text, html = text_of(message)
    assert ref in text
    assert f"http://testserver/orientations/{created['id']}" in text  # the web page
    assert "/referrals/v1" not in text  # never an API URL
    assert "accuser réception" in text
    assert f"<strong>{ref}</strong>" in html
    assert_no_personal_data(message)
    inbox = [msg for msg in sink.to("accueil@example.org") if ref in str(msg["Subject"])]
    assert len(inbox) == 1  # the structure's address from the directory
    assert sink.to(referent) == []  # the sender is not told about its own sending

    handoff = created["handoffs"][0]
    handoff = await act(world, partner.member, created["id"], handoff, "acknowledge")
    await act(
        world,
        partner.member,
        created["id"],
        handoff,
        "decline",
        {"reason": "no_capacity", "comment": "Complet jusqu'en mai"},
    )
    await flush(world)
    updates = sink.to(referent)
    assert [str(msg["Subject"]) for msg in updates] == [
        f"Orientation {ref} : {partner_name(created)} en a accusé réception",
        f"Orientation {ref} : {partner_name(created)} l'a refusée",
    ]
    declined_text, _ = text_of(updates[1])
    assert "Motif : plus de place disponible." in declined_text
    assert "réorienter" in declined_text
    for message in updates:
        assert_no_personal_data(message)


async def test_the_referent_is_told_when_the_partner_closed_its_part(mail: MailWorld) -> None:
    world, sink = mail.world, mail.sink
    ccas, partner = await world.org("CCAS"), await world.org("Partenaire")
    referent = f"referent-{uuid.uuid4().hex[:6]}@ccas.example"
    await prefer(world, ccas.member, referent, "off")  # the defaults
    subjects = []
    for first in (partner, ccas):
        created = await create_referral(world, ccas, partner)
        handoff = created["handoffs"][0]
        for action in ("accept", "take-over"):
            handoff = await act(world, partner.member, created["id"], handoff, action)
        closed = await world.client.post(
            f"/referrals/v1/referrals/{created['id']}/close",
            json={"outcome": "solution_found"},
            headers=first.member,
        )
        assert closed.status_code == 200, closed.text
        subjects.append(f"Orientation {reference(uuid.UUID(created['id']))} : ")
    await flush(world)
    told = [str(msg["Subject"]) for msg in sink.to(referent)]
    closing = f"{partner_name(created)} a clôturé sa part de l'orientation"
    # The partner closed first: told, with what to do; the CCAS closed first: not told of it.
    assert f"{subjects[0]}{closing}" in told
    assert not any(s.startswith(subjects[1]) and closing in s for s in told)
    message = next(msg for msg in sink.to(referent) if closing in str(msg["Subject"]))
    assert "se terminera d'elle-même dans 30 jours" in text_of(message)[0]
    assert_no_personal_data(message)
    inbox = [str(msg["Subject"]) for msg in sink.to("accueil@example.org")]
    assert f"{subjects[0]}{closing}" in inbox


def partner_name(created: dict[str, Any]) -> str:
    return str(created["handoffs"][0]["to_structure_name"])


async def test_reminder_digest_and_off(mail: MailWorld) -> None:
    world, sink = mail.world, mail.sink
    ccas, partner = await world.org("CCAS"), await world.org("Partenaire")
    tag = uuid.uuid4().hex[:6]
    daily = f"daily-{tag}@partner.example"
    await prefer(world, partner.admin, daily, "digest")
    silent = f"silent-{tag}@ccas.example"
    await prefer(world, ccas.member, silent, "off")
    created = await create_referral(world, ccas, partner)
    ref = reference(uuid.UUID(created["id"]))
    await flush(world)
    assert sink.to(daily) == []  # digest readers get no single mail

    # Reminder before the deadline, to the structure's inbox.
    async with world.app().state.db.session() as session:
        await session.execute(
            sa.update(m.Handoff)
            .where(m.Handoff.id == uuid.UUID(created["handoffs"][0]["id"]))
            .values(respond_by=datetime.now(UTC) + timedelta(hours=12))
        )
    assert await worker.remind_handoffs(world.app()) >= 1
    await flush(world)
    reminders = [
        m_
        for m_ in sink.to("accueil@example.org")
        if m_["Subject"] == f"Rappel : orientation {ref}"
    ]
    assert len(reminders) == 1
    assert "expirera" in text_of(reminders[0])[0]

    # The daily digest: once per day, after the configured hour.
    app = world.app()
    morning = datetime.now(UTC).replace(hour=8, minute=0)
    assert await sending.digest(app.state.db, app.state.settings, morning.replace(hour=5)) == 0
    assert await sending.digest(app.state.db, app.state.settings, morning) >= 1
    assert await sending.digest(app.state.db, app.state.settings, morning) == 0
    await background.send_mail(app)
    digests = sink.to(daily)
    assert len(digests) == 1
    text, html = text_of(digests[0])
    assert "nouvelles orientations reçues (24 h) : 1" in text
    assert ref in text
    assert "Acceptées, en attente de prise en charge : 0" in html
    assert_no_personal_data(digests[0])
    assert sink.to(silent) == []


async def test_preferences_are_for_members_only(mail: MailWorld) -> None:
    world = mail.world
    partner = await world.org("Partenaire")
    client = await world.client.put(
        "/referrals/v1/notifications/preferences",
        json={"email": "robot@example.org"},
        headers=partner.client("referrals:write"),
    )
    assert client.status_code == 403
    bad = await world.client.put(
        "/referrals/v1/notifications/preferences",
        json={"email": "pas-une-adresse"},
        headers=partner.member,
    )
    assert bad.status_code == 422
    empty = await world.client.get(
        "/referrals/v1/notifications/preferences", headers=partner.member
    )
    assert empty.json() == {"email": None, "mode": "off", "referent_events": DEFAULTS}
    unknown = await world.client.put(
        "/referrals/v1/notifications/preferences",
        json={"email": "a@example.org", "referent_events": ["handoff.sent"]},
        headers=partner.member,
    )
    assert unknown.status_code == 422


async def test_embedded_mode_writes_eml_files(world: World) -> None:
    ccas, partner = await world.org("CCAS"), await world.org("Partenaire")
    created = await create_referral(world, ccas, partner)
    ref = reference(uuid.UUID(created["id"]))
    await background.dispatch_outbox(world.app())
    while await background.send_mail(world.app()):  # the shared system may have a backlog
        pass
    folder = world.relais.settings.home / "mail"
    files = [p for p in folder.glob("*.eml") if ref in p.read_bytes().decode("utf-8", "replace")]
    if world.backend == "postgresql":
        assert files  # written even when PostgreSQL holds the data: SMTP_URL is what decides
    assert len(files) == 1
    message = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert message["To"] == "accueil@example.org"


def test_templates_render_in_french_with_escaping() -> None:
    text, html = render(
        "handoff_update",
        subject="s",
        reference="OR-1234ABCD",
        link="https://relais.example.org/r/1",
        headline="<b>Partenaire</b> l'a acceptée",
        reason=None,
        next_step=None,
    )
    assert "Orientation OR-1234ABCD : <b>Partenaire</b> l'a acceptée." in text
    assert "&lt;b&gt;Partenaire&lt;/b&gt;" in html
    assert "aucune donnée" in text
    assert 'lang="fr"' in html


async def _planned(world: World, referral_id: str) -> list[tuple[str, str]]:
    """(kind, to) of the mails queued for a referral, in order."""
    async with world.app().state.db.session() as session:
        rows = await session.execute(
            sa.select(m.MailMessage.kind, m.MailMessage.to_address)
            .where(m.MailMessage.referral_id == uuid.UUID(referral_id))
            .order_by(m.MailMessage.created_at, m.MailMessage.kind, m.MailMessage.to_address)
        )
        return [(kind, to) for kind, to in rows.tuples()]


async def test_the_loop_reaches_the_sender_by_default(mail: MailWorld) -> None:
    world = mail.world
    ccas, cms, pimms = await world.org("CCAS"), await world.org("CMS"), await world.org("PIMMS")
    referent = f"referent-{uuid.uuid4().hex[:6]}@ccas.example"
    # What the web app records at sign-in: the address, no inbox mail, the default updates.
    await prefer(world, ccas.member, referent, "off")
    created = await create_referral(world, ccas, cms)
    rid = created["id"]
    handoff = await act(world, cms.member, rid, created["handoffs"][0], "acknowledge")
    handoff = await act(world, cms.member, rid, handoff, "accept")
    relay = await act(
        world,
        cms.member,
        rid,
        handoff,
        "relay",
        {"target": {"structure_id": str(pimms.id)}},
        expect=201,
    )
    await act(world, pimms.member, rid, relay, "decline", {"reason": "other", "comment": "non"})
    await flush(world)
    updates = [(k, to) for k, to in await _planned(world, rid) if k.startswith("handoff_")]
    inbox = f"structure:{ccas.id}"
    # Not told of the acknowledgement nor the acceptance; told of the refusal, with the
    # inboxes of the structure that recorded the referral and of the one that relayed it.
    assert sorted(updates) == sorted(
        [
            ("handoff_received", f"structure:{cms.id}"),
            ("handoff_received", f"structure:{pimms.id}"),
            ("handoff_declined", referent),
            ("handoff_declined", inbox),
            ("handoff_declined", f"structure:{cms.id}"),
        ]
    )
    declined = [msg for msg in mail.sink.to(referent) if "refusée" in str(msg["Subject"])]
    assert len(declined) == 1
    text, _ = text_of(declined[0])
    assert f"http://testserver/orientations/{rid}" in text


async def test_takeover_and_expiry_are_told_and_preferences_change_it(mail: MailWorld) -> None:
    world = mail.world
    ccas, partner = await world.org("CCAS"), await world.org("Partenaire")
    referent = f"referent-{uuid.uuid4().hex[:6]}@ccas.example"
    await prefer(world, ccas.member, referent, "off")
    taken = await create_referral(world, ccas, partner)
    handoff = await act(world, partner.member, taken["id"], taken["handoffs"][0], "accept")
    await act(world, partner.member, taken["id"], handoff, "take-over")
    expiring = await create_referral(world, ccas, partner)
    async with world.app().state.db.session() as session:
        await session.execute(
            sa.update(m.Handoff)
            .where(m.Handoff.id == uuid.UUID(expiring["handoffs"][0]["id"]))
            .values(respond_by=datetime.now(UTC) - timedelta(minutes=1))
        )
    assert await worker.expire_handoffs(world.app()) >= 1
    await flush(world)
    for created, kind in ((taken, "handoff_taken_over"), (expiring, "handoff_expired")):
        planned = await _planned(world, created["id"])
        assert (kind, referent) in planned
        assert (kind, f"structure:{ccas.id}") in planned
    assert ("handoff_accepted", referent) not in await _planned(world, taken["id"])

    # Told of nothing any more: only the structure's inbox is.
    await prefer(world, ccas.member, referent, "off", [])
    quiet = await create_referral(world, ccas, partner)
    await act(world, partner.member, quiet["id"], quiet["handoffs"][0], "decline",
              {"reason": "other", "comment": "non"})  # fmt: skip
    await flush(world)
    planned = await _planned(world, quiet["id"])
    assert ("handoff_declined", referent) not in planned
    assert ("handoff_declined", f"structure:{ccas.id}") in planned


async def test_a_client_referral_is_told_to_its_structure(mail: MailWorld) -> None:
    world = mail.world
    ccas, partner = await world.org("CCAS"), await world.org("Partenaire")
    created = await create_referral(
        world, ccas, partner, headers=ccas.client("referrals:write"), referent="Dossier 42"
    )
    await act(world, partner.member, created["id"], created["handoffs"][0], "decline",
              {"reason": "other", "comment": "non"})  # fmt: skip
    await flush(world)
    planned = await _planned(world, created["id"])
    assert ("handoff_declined", f"structure:{ccas.id}") in planned
    assert all(to.startswith("structure:") for _, to in planned)  # no staff referent to mail
