"""Moderation: who may change an entry's status, and to what (one table, pure function).

Actors, from the point of view of one entry:
- ``moderator``: a network moderator (any entry);
- ``owner``: an admin of the entry's structure (or of its parent structure, which manages its
  sites), or an API client holding ``directory:write`` bound to that structure;
- ``other``: anybody else.

Rules: owners create, edit, publish, unpublish and archive their entries; moderators may do the
same on any entry and are the only ones who suspend — and the only ones who lift a suspension, so
an owner cannot republish what a moderator took down. Unpublishing is the owner's own withdrawal:
the entry goes back to draft (hidden from the public, kept for its structure) and publishing it
again republishes it. Archived entries are read-only tombstones.
"""

from __future__ import annotations

import enum


class Actor(enum.StrEnum):
    MODERATOR = "moderator"
    OWNER = "owner"
    OTHER = "other"


class Action(enum.StrEnum):
    CREATE = "create"
    EDIT = "edit"
    VERIFY = "verify"
    PUBLISH = "publish"
    UNPUBLISH = "unpublish"
    SUSPEND = "suspend"
    ARCHIVE = "archive"


class ModerationError(Exception):
    """The action is refused: ``status`` is 403 (not allowed for this actor) or 409 (state)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


# (action) -> (statuses it applies to, resulting status or None = unchanged, who may)
_RULES: dict[Action, tuple[frozenset[str], str | None, frozenset[Actor]]] = {
    Action.EDIT: (
        frozenset({"draft", "published", "suspended"}),
        None,
        frozenset({Actor.OWNER, Actor.MODERATOR}),
    ),
    Action.VERIFY: (
        frozenset({"draft", "published", "suspended"}),
        None,
        frozenset({Actor.OWNER, Actor.MODERATOR}),
    ),
    Action.PUBLISH: (
        frozenset({"draft", "published"}),
        "published",
        frozenset({Actor.OWNER, Actor.MODERATOR}),
    ),
    Action.UNPUBLISH: (
        frozenset({"draft", "published"}),
        "draft",
        frozenset({Actor.OWNER, Actor.MODERATOR}),
    ),
    Action.SUSPEND: (
        frozenset({"draft", "published", "suspended"}),
        "suspended",
        frozenset({Actor.MODERATOR}),
    ),
    Action.ARCHIVE: (
        frozenset({"draft", "published", "suspended", "archived"}),
        "archived",
        frozenset({Actor.OWNER, Actor.MODERATOR}),
    ),
}

_LABELS = {
    "draft": "brouillon",
    "published": "publiée",
    "suspended": "suspendue",
    "archived": "archivée",
}


def transition(status: str, action: Action, actor: Actor) -> str:
    """The status after ``action`` by ``actor`` on an entry in ``status``; raises if refused."""
    if action is Action.CREATE:
        raise ValueError("use initial_status() for creations")
    if action is Action.PUBLISH and status == "suspended" and actor is Actor.MODERATOR:
        return "published"  # lifting a suspension is the moderators' call
    applies_to, result, allowed = _RULES[action]
    if actor not in allowed:
        if actor is Actor.OWNER and action is Action.SUSPEND:
            raise ModerationError(403, "Seule la modération du réseau peut suspendre une fiche.")
        raise ModerationError(403, "Vous n'avez pas le droit de modifier cette fiche.")
    if status not in applies_to:
        if status == "suspended" and action is Action.PUBLISH:
            raise ModerationError(
                409, "Fiche suspendue par la modération : seule la modération peut la republier."
            )
        raise ModerationError(
            409, f"Action impossible : la fiche est {_LABELS.get(status, status)}."
        )
    return status if result is None else result


def initial_status(requested: str, actor: Actor) -> str:
    """Status of a new entry: owners and moderators may create it published or as a draft."""
    if actor is Actor.OTHER:
        raise ModerationError(403, "Vous n'avez pas le droit de créer cette fiche.")
    if requested not in ("draft", "published"):
        raise ModerationError(409, "Une nouvelle fiche est créée en brouillon ou publiée.")
    return requested
