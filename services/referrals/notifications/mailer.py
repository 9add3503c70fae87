"""Sending one message: SMTP when SMTP_URL is set (aiosmtplib), otherwise an .eml file under
RELAIS_HOME/mail/ so that nothing is lost in the embedded mode. Messages are never logged."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
import anyio

from services.kernel.settings import Settings


def build(
    settings: Settings, mail_id: uuid.UUID, to: str, subject: str, text: str, html: str
) -> EmailMessage:
    """The mail of one queued message. Its Message-ID comes from the queue row, so the rare
    second sending (a crash between the SMTP answer and the record of it) carries the same id
    and mail systems can drop it."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = f"<{mail_id}@relais.invalid>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


async def send(settings: Settings, message: EmailMessage) -> None:
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
        return
    folder = anyio.Path(settings.home) / "mail"
    await folder.mkdir(parents=True, exist_ok=True)
    await (folder / f"{uuid.uuid4().hex}.eml").write_bytes(message.as_bytes())
