"""What one structure may see of a referral, decided once for every read path.

- The referral itself (ids, states, the need's statistics fields): the origin structure and every
  structure a handoff was sent from or to; anyone else is told it does not exist (404).
- Handoffs: the origin follows the whole journey; a partner sees the handoffs it is party to.
- Timeline events: the origin sees them all; a partner those that list its structure.
- Personal data (the person, the summary, attachments, free-text comments): by consent category
  (``consent.visible_categories``). A receiving structure holds the person only through a
  handoff it did not refuse and that was neither cancelled nor left to expire: after those, it
  sees nothing personal any more. Free-text comments (handoffs, events, the evaluation) are read
  as the situation category: staff write the person's circumstances in them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from services.referrals.domain.consent import Category, ConsentTerms, visible_categories
from services.referrals.domain.lifecycle import Referral
from services.referrals.domain.transitions import REORIENTABLE

NOTHING: frozenset[Category] = frozenset()


@dataclass(frozen=True)
class View:
    """One structure's view of one referral at one instant."""

    structure_id: uuid.UUID | None
    party: bool
    origin: bool
    handoffs: frozenset[uuid.UUID]
    categories: frozenset[Category]

    @property
    def comments(self) -> bool:
        """Free-text comments are shown under the situation category."""
        return Category.SITUATION in self.categories

    def sees_handoff(self, handoff_id: uuid.UUID) -> bool:
        return handoff_id in self.handoffs

    def sees_event(self, structures: Iterable[str]) -> bool:
        return self.origin or (self.party and str(self.structure_id) in set(structures))

    def covers(self, categories: Iterable[str]) -> bool:
        """Whether what was shown under ``categories`` may still be shown now."""
        return self.party and {Category(c) for c in categories} <= self.categories


def view(
    referral: Referral, terms: ConsentTerms, structure_id: uuid.UUID | None, now: datetime
) -> View:
    """The view of ``structure_id`` (None: a caller acting for no structure sees nothing)."""
    if structure_id is None:
        return View(None, False, False, frozenset(), NOTHING)
    origin = structure_id == referral.origin_structure_id
    mine = frozenset(
        h.id
        for h in referral.handoffs
        if origin or structure_id in (h.from_structure_id, h.to_structure_id)
    )
    party = origin or bool(mine)
    holding = [h.to_structure_id for h in referral.handoffs if h.state not in REORIENTABLE]
    categories = (
        visible_categories(
            terms,
            origin_structure_id=referral.origin_structure_id,
            receivers=holding,
            structure_id=structure_id,
            now=now,
        )
        if party
        else NOTHING
    )
    return View(structure_id, party, origin, mine, categories)
