"""The person's follow-up link, as the sending structure hands it over.

The API gives a code once (with the referral, or when staff ask for a new one) and keeps only
its hash. The web app keeps it just long enough to hand it over: sealed in a short-lived cookie
scoped to that referral's pages (the referral page, the printable receipt, the e-mail action),
never in a URL of the staff pages, a log or a table. Asking for a new one revokes the old one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, Response, post
from litestar.datastructures import Cookie

from services.kernel.mail import build_message, send
from services.kernel.settings import Settings
from services.web.clients.referrals import Referral, ReferralsApi
from services.web.crypto import Sealer
from services.web.deps import Forbidden, Form
from services.web.features.connexion.routes import see_other
from services.web.sessions import Staff

COOKIE = "relais_suivi"
# Long enough to print the receipt and send the link; the code is then out of reach here.
COOKIE_SECONDS = 3600


@dataclass(frozen=True)
class FollowUpLink:
    link: str
    # Only where the consent lets the structure hold the person's contact, and they gave it:
    sms: str | None  # the text to send to their phone
    email: str | None  # their address


def link_of(settings: Settings, code: str) -> str:
    return f"{settings.base_url.rstrip('/')}/suivi/{code}"


def _context(staff: Staff, referral_id: uuid.UUID) -> str:
    return f"suivi:{referral_id}:{staff.account_id}"


def code_cookie(
    request: Request[Any, Any, Any], staff: Staff, referral_id: uuid.UUID, code: str
) -> Cookie:
    sealer: Sealer = request.app.state.sealer
    settings: Settings = request.app.state.settings
    return Cookie(
        key=COOKIE,
        value=sealer.seal(code, _context(staff, referral_id)),
        path=f"/orientations/{referral_id}",
        httponly=True,
        secure=settings.base_url.startswith("https://"),
        samesite="strict",
        max_age=COOKIE_SECONDS,
    )


def held_code(request: Request[Any, Any, Any], staff: Staff, referral_id: uuid.UUID) -> str | None:
    sealed = request.cookies.get(COOKIE)
    if not sealed:
        return None
    sealer: Sealer = request.app.state.sealer
    return sealer.open(sealed, _context(staff, referral_id))


def sms_text(link: str, origin: str) -> str:
    return (
        f"Bonjour. {origin} a envoyé votre demande. Pour savoir où elle en est, ouvrez ce lien : "
        f"{link} Gardez-le pour vous."
    )


def _contact(referral: Referral, kind: str) -> str | None:
    if "contact" not in referral.consent.data_categories or referral.person is None:
        return None
    value: str | None = getattr(referral.person, kind)
    return value or None


def follow_up_link(
    request: Request[Any, Any, Any], staff: Staff, referral: Referral
) -> FollowUpLink | None:
    """The link to hand over now, if this browser still holds the referral's new code."""
    if referral.structure_id != staff.structure_id or referral.status == "withdrawn":
        return None
    code = held_code(request, staff, referral.id)
    if code is None:
        return None
    link = link_of(request.app.state.settings, code)
    sms = sms_text(link, staff.structure_name) if _contact(referral, "phone") else None
    return FollowUpLink(link=link, sms=sms, email=_contact(referral, "email"))


class FollowUpLinkActions(Controller):
    path = "/orientations/{referral_id:uuid}/suivi"
    include_in_schema = False

    @post("/nouveau", status_code=303)
    async def renew(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        referrals: ReferralsApi,
        form: Form,
        referral_id: uuid.UUID,
    ) -> Response[Any]:
        """A new link for the person (the former one stops working)."""
        issued = await referrals.renew_follow_up_code(referral_id)
        cookie = code_cookie(request, staff, referral_id, issued.code)
        return see_other(
            f"/orientations/{referral_id}?message=lien-suivi#suivi-personne", cookies=[cookie]
        )

    @post("/courriel", status_code=303)
    async def email(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        referrals: ReferralsApi,
        form: Form,
        referral_id: uuid.UUID,
    ) -> Response[Any]:
        """Send the link to the person's address, when the consent covers their contact."""
        referral = await referrals.referral(referral_id)
        if referral.structure_id != staff.structure_id:
            raise Forbidden(
                "Le lien de suivi est donné par la structure qui a orienté la personne."
            )
        held = follow_up_link(request, staff, referral)
        if held is None or held.email is None:
            return see_other(f"/orientations/{referral_id}?message=lien-suivi-perdu#suivi-personne")
        settings: Settings = request.app.state.settings
        text = (
            f"Bonjour,\n\n{staff.structure_name} a envoyé votre demande à un partenaire.\n"
            f"Pour savoir où elle en est, ouvrez ce lien :\n\n{held.link}\n\n"
            "Sur cette page, vous pouvez aussi retirer votre accord.\n"
            "Gardez ce lien pour vous. Il marche jusqu'à un mois après la fin de votre demande.\n"
        )
        await send(settings, build_message(settings, held.email, "Suivre votre demande", text))
        return see_other(f"/orientations/{referral_id}?message=lien-suivi-envoye#suivi-personne")


ROUTES = [FollowUpLinkActions]
