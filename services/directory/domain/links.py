"""Link states: when a failing link is dead, and who sees that it fails (pure, no I/O).

The link checker probes every website, referral link and booking link once a day. One failed
probe says little (a server restarting, a network hiccup on either side), so:

- a link is **dead** after ``DEAD_AFTER_FAILURES`` failed checks in a row spanning at least
  ``DEAD_AFTER_SPAN`` (three daily passes; three manual runs in an hour are not enough), and
  the first success clears it;
- until then it is **failing**, which only the entry's insiders (members of its structure, API
  clients bound to it, moderators) see, so they can fix it; everybody else still sees the link
  as it was last known to work (``ok``), or ``unchecked`` if it never did.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

DEAD_AFTER_FAILURES = 3
DEAD_AFTER_SPAN = timedelta(days=2)

LinkState = Literal["ok", "failing", "dead", "unchecked"]


def is_dead(failures: int, failing_since: datetime | None, now: datetime) -> bool:
    """Whether ``failures`` consecutive failed checks, the first at ``failing_since``, make a
    link dead at ``now``."""
    return (
        failures >= DEAD_AFTER_FAILURES
        and failing_since is not None
        and now - failing_since >= DEAD_AFTER_SPAN
    )


def state(
    *,
    dead: bool,
    checked: bool,
    failures: int,
    ever_ok: bool,
    insider: bool,
) -> LinkState:
    """The state a reader is shown (see the module docstring)."""
    if dead:
        return "dead"
    if not checked:
        return "unchecked"
    if not failures:
        return "ok"
    if insider:
        return "failing"
    return "ok" if ever_ok else "unchecked"
