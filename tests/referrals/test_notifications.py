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


async def prefer(world: World, headers: dict[str, str], address: str, mode: str) -> None:
    response = await world.client.put(
        "/referrals/v1/notifications/preferences",
        json={"email": address, "mode": mode},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"email": address, "mode": mode}


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
    await prefer(world, ccas.member, referent, "immediate")
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
    assert f"/referrals/v1/referrals/{created['id']}" in text
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
    assert empty.json() == {"email": None, "mode": "off"}


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
