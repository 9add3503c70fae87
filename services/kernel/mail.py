"""Sending e-mail, for every service: SMTP when ``SMTP_URL`` is set, otherwise an ``.eml`` file
under ``RELAIS_HOME/mail/`` so that nothing is lost in the embedded mode.

``SMTP_URL`` is ``smtp://user:password@host:port`` (``?starttls=true`` to upgrade the connection)
or ``smtps://…`` (TLS from the start). Messages are never logged: they carry single-use links and
personal data; only the transport used is.
"""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
import anyio
import structlog

from services.kernel.settings import Settings

log = structlog.get_logger("relais.mail")


def build_message(
    settings: Settings,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    *,
    message_id: str | None = None,
) -> EmailMessage:
    """A message from ``MAIL_FROM``: plain text, with an HTML alternative when given. Marked
    ``Auto-Submitted: auto-generated`` (RFC 3834) so that out-of-office replies stay away.
    ``message_id``: a queued mail's own id, so that a second sending of it (a crash between the
    SMTP answer and its record) carries the same Message-ID and mail systems can drop it."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id or make_msgid(domain="relais.invalid")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


async def send(settings: Settings, message: EmailMessage) -> None:
    """Send (SMTP) or keep (``.eml`` file) one message; SMTP errors are ``OSError`` or
    ``aiosmtplib.SMTPException`` for the caller to retry."""
    if settings.smtp_url:
        url = urlsplit(settings.smtp_url)
        query = parse_qs(url.query)
        await aiosmtplib.send(
            message,
            hostname=url.hostname or "localhost",
            port=url.port or (465 if url.scheme == "smtps" else 25),
            username=unquote(url.username) if url.username else None,
            password=unquote(url.password) if url.password else None,
            use_tls=url.scheme == "smtps",
            start_tls=True if query.get("starttls") == ["true"] else None,
            timeout=settings.service_timeout_seconds * 2,
        )
        log.info("mail_sent", transport="smtp")
        return
    folder = anyio.Path(settings.home) / "mail"
    await folder.mkdir(parents=True, exist_ok=True)
    await (folder / f"{uuid.uuid4().hex}.eml").write_bytes(message.as_bytes())
    log.info("mail_written", transport="file")
