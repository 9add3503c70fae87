"""One referral as the page shows it to the structure looking at it: the sender's or the
receiver's side, what its consent lets this structure see, the journey in words, and the forms
the API allows now. The GET and every form that fails (412, 409, 422) render it the same way."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from litestar import Request, Response

from services.web.clients.auth import AuthApi, Colleague
from services.web.clients.directory import DirectoryApi
from services.web.clients.referrals import Handoff, Referral, ReferralsApi
from services.web.features.orientations import story
from services.web.features.orientations.lien_suivi import follow_up_link
from services.web.features.orientations.names import StructureNames
from services.web.formats import PARIS
from services.web.labels import DATA_CATEGORIES
from services.web.rendering import render
from services.web.sessions import Staff

ALL_CATEGORIES = frozenset(DATA_CATEGORIES)
# Receiver's transitions, in the order the buttons are shown.
RECEIVER_ACTIONS = ("acknowledge", "accept", "take_over", "decline", "relay")


# Said after a form succeeded (``?message=`` of the page it redirects to).
MESSAGES = {
    "envoyee": "Orientation envoyée.",
    "accuse": "Accusé de réception enregistré : la structure qui oriente en est informée.",
    "acceptee": "Orientation acceptée. Confirmez la prise en charge quand la personne est reçue.",
    "prise-en-charge": "Prise en charge confirmée.",
    "refusee": "Refus enregistré : la structure qui oriente peut réorienter la personne.",
    "annulee": "Transmission annulée.",
    "relayee": "Orientation relayée au partenaire choisi.",
    "reorientee": "Orientation envoyée au nouveau partenaire.",
    "cloturee": "Votre part de l’orientation est clôturée. Merci pour votre évaluation.",
    "referent": "Le suivi est confié à votre collègue.",
    "retrait": "Retrait du consentement enregistré : les données de la personne sont effacées.",
    "lien-suivi": "Nouveau lien de suivi créé : l’ancien ne marche plus. Donnez celui-ci à la "
    "personne.",
    "lien-suivi-envoye": "Lien de suivi envoyé par courriel à la personne.",
    "lien-suivi-perdu": "Le lien de suivi n’est plus affichable ici : créez-en un nouveau.",
}


def reference(referral_id: uuid.UUID) -> str:
    """The short reference quoted in e-mails and on the phone (« OR-1A2B3C4D »)."""
    return f"OR-{referral_id.hex[-8:].upper()}"


def referent_label(referent: str | None, names: dict[str, str]) -> str:
    """Who follows a referral, in words: a colleague by name (``names``: account id -> name),
    the text an API client gave (its software names its own referents), or a former member."""
    if not referent:
        return ""
    if referent in names:
        return names[referent]
    try:
        uuid.UUID(referent)
    except ValueError:
        return referent
    return "un·e ancien·ne membre de la structure"


def shared_categories(referral: Referral) -> frozenset[str]:
    """The personal data categories the API showed this structure: all of them (``full``), the
    consented ones (``partial``: a receiver covered by the consent), or none."""
    if referral.personal_data == "full":
        return ALL_CATEGORIES
    if referral.personal_data == "partial":
        return frozenset(referral.consent.data_categories)
    return frozenset()


@dataclass
class Side:
    """How the structure looking at the page takes part in the referral."""

    origin: bool
    received: Handoff | None  # the latest handoff sent to this structure
    cancellable: list[Handoff] = field(default_factory=list)  # sent by it, still cancellable

    @property
    def receiver_actions(self) -> list[str]:
        if self.received is None:
            return []
        return [a for a in RECEIVER_ACTIONS if a in self.received.allowed_actions]


def side_of(referral: Referral, structure_id: uuid.UUID | None) -> Side:
    mine = [h for h in referral.handoffs if h.to_structure_id == structure_id]
    return Side(
        origin=referral.structure_id == structure_id,
        received=max(mine, key=lambda h: h.position) if mine else None,
        cancellable=[h for h in referral.handoffs if "cancel" in h.allowed_actions],
    )


async def _colleagues(auth: AuthApi, staff: Staff, side: Side) -> list[Colleague]:
    if not side.origin or staff.structure_id is None:
        return []
    return await auth.colleagues(staff.structure_id)


async def referral_page(
    request: Request[Any, Any, Any],
    staff: Staff,
    referrals: ReferralsApi,
    directory: DirectoryApi,
    auth: AuthApi,
    referral_id: uuid.UUID,
    *,
    status: int = 200,
    **extra: Any,
) -> Response[Any]:
    """The referral page; ``extra`` carries a form's errors, values or a conflict message."""
    referral, events = await asyncio.gather(
        referrals.referral(referral_id), referrals.timeline(referral_id)
    )
    side = side_of(referral, staff.structure_id)
    known = {h.to_structure_id: h.to_structure_name for h in referral.handoffs if h.to_structure_id}
    wanted = {referral.structure_id, *referral.consent.recipients}
    wanted |= {h.from_structure_id for h in referral.handoffs if h.from_structure_id}
    wanted |= {e.actor_structure_id for e in events if e.actor_structure_id}
    store: StructureNames = request.app.state.structure_names
    fetched, colleagues = await asyncio.gather(
        store.of(directory, wanted - set(known)), _colleagues(auth, staff, side)
    )
    names = {**fetched, **known}
    found = story.steps(referral, events, names)
    referent = None
    if side.origin:
        members = {str(c.account_id): c.name for c in colleagues}
        members[str(staff.account_id)] = f"vous ({staff.name or staff.email})"
        referent = referent_label(referral.referent, members)
    return render(
        request,
        "orientations/orientation.html",
        status=status,
        title=f"Orientation {reference(referral.id)}",
        referral=referral,
        reference=reference(referral.id),
        side=side,
        names=names,
        steps=found,
        journey=story.journey(found, datetime.now(PARIS).date()),
        shared=shared_categories(referral),
        colleagues=[c for c in colleagues if str(c.account_id) != referral.referent],
        referent=referent,
        follow_up=follow_up_link(request, staff, referral),
        new_key=lambda: uuid.uuid4().hex,
        message=MESSAGES.get(extra.pop("message", "")),
        errors=extra.pop("errors", {}),
        values=extra.pop("values", {}),
        **extra,
    )
