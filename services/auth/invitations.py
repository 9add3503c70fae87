"""Inviting someone into a structure: the invitation (single use, 7 days) and its e-mail. Used by
the admin API and by ``relais create-admin``, which does not load the HTTP layer."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from services.auth.models import Invitation
from services.auth.store import invitations
from services.kernel.mail import build_message, send
from services.kernel.settings import Settings


async def invite_by_email(
    settings: Settings,
    session: AsyncSession,
    *,
    email: str,
    structure_id: uuid.UUID,
    role: str,
    invited_by: uuid.UUID | None,
) -> Invitation:
    invitation, token = await invitations.create_invitation(
        session, email=email, structure_id=structure_id, role=role, invited_by=invited_by
    )
    await mail_invitation(settings, invitation, token)
    return invitation


async def mail_invitation(settings: Settings, invitation: Invitation, token: str) -> None:
    link = f"{settings.base_url.rstrip('/')}/auth/invitation?{urlencode({'token': token})}"
    role_text = "administrateur ou administratrice" if invitation.role == "admin" else "membre"
    await send(
        settings,
        build_message(
            settings,
            invitation.email,
            "Relais : invitation à rejoindre votre structure",
            "Bonjour,\n\nVous êtes invité·e à rejoindre Relais, le réseau d’orientation, "
            f"en tant que {role_text} de votre structure.\n\nPour accepter, ouvrez ce lien "
            f"(valable 7 jours, utilisable une seule fois) :\n\n{link}\n",
        ),
    )
