"""Sending e-mail: SMTP when SMTP_URL is set, otherwise .eml files under RELAIS_HOME/mail/.

Minimal on purpose (invitations, password resets); the referrals notifications have their own.
Messages are never logged: they carry single-use links.
"""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import unquote, urlsplit

import aiosmtplib
import anyio
import structlog

from services.kernel.settings import Settings

log = structlog.get_logger("relais.auth.mail")


def build_message(settings: Settings, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain="relais.invalid")
    message.set_content(body)
    return message


async def send_mail(settings: Settings, to: str, subject: str, body: str) -> None:
    message = build_message(settings, to, subject, body)
    if settings.smtp_url:
        url = urlsplit(settings.smtp_url)
        await aiosmtplib.send(
            message,
            hostname=url.hostname or "localhost",
            port=url.port or (465 if url.scheme == "smtps" else 25),
            username=unquote(url.username) if url.username else None,
            password=unquote(url.password) if url.password else None,
            use_tls=url.scheme == "smtps",
            timeout=settings.service_timeout_seconds * 2,
        )
        log.info("mail_sent", transport="smtp")
        return
    folder = anyio.Path(settings.home) / "mail"
    await folder.mkdir(parents=True, exist_ok=True)
    await (folder / f"{uuid.uuid4().hex}.eml").write_bytes(message.as_bytes())
    log.info("mail_written", transport="file")
