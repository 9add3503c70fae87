"""Pages and fragments: Jinja2 (autoescaped) over the shared layout and each feature's templates.

A route renders a whole page; asked by htmx (``HX-Request``) it may answer only the fragment
the page marks with ``{% block fragment %}`` — the same template, so the two never drift.
Every answer carries the security headers of the auth pages (strict CSP: no inline script or
style, so htmx runs with its inline indicator styles and ``eval`` off).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, select_autoescape
from litestar import Request, Response
from litestar.datastructures import Cookie

from services.web import formats, labels
from services.web.sessions import Staff

ROOT = Path(__file__).parent
FEATURES = ROOT / "features"
STATIC = ROOT / "static"
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _asset_versions() -> dict[str, str]:
    """A short digest per static file: its URL changes when it does (long browser caching)."""
    found = {}
    for path in STATIC.rglob("*"):
        if path.is_file():
            name = path.relative_to(STATIC).as_posix()
            found[name] = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
    return found


_VERSIONS = _asset_versions()


def static_url(name: str) -> str:
    return f"/static/{name}?v={_VERSIONS.get(name, '0')}"


def query(base: str, params: dict[str, Any] | list[tuple[str, Any]]) -> str:
    """``base?…`` without empty values (links that keep a search's state)."""
    items = params.items() if isinstance(params, dict) else params
    flat: list[tuple[str, str]] = []
    for key, value in items:
        values = value if isinstance(value, list | tuple) else [value]
        flat += [(key, str(v)) for v in values if v not in (None, "", False)]
    return f"{base}?{urlencode(flat)}" if flat else base


def _environment() -> Environment:
    features = {
        path.name: FileSystemLoader(path / "templates")
        for path in sorted(FEATURES.iterdir())
        if (path / "templates").is_dir()
    }
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(ROOT / "templates"), PrefixLoader(features)]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.globals.update(
        static_url=static_url,
        query=query,
        STATUS=labels.STATUS,
        STATUS_HINT=labels.STATUS_HINT,
        CAPACITY=labels.CAPACITY,
        CAPACITY_SHORT=labels.CAPACITY_SHORT,
        ROLES=labels.ROLES,
        ACCOUNT_STATUS=labels.ACCOUNT_STATUS,
        SCOPES=labels.SCOPES,
        LINK_STATES=labels.LINK_STATES,
        LINK_FIELDS=labels.FIELDS,
        age_band=labels.age_band,
        REVIEW_REASONS=labels.REVIEW_REASONS,
    )
    # Orientations' codes in words.
    for name in (
        "HANDOFF_STATES",
        "REFERRAL_STATUS",
        "DECLINE_REASONS",
        "CANCEL_REASONS",
        "OUTCOMES",
        "URGENCY",
        "CHANNELS",
        "DATA_CATEGORIES",
        "CONSENT_GIVEN_BY",
        "CONSENT_METHODS",
        "CONSENT_STATUS",
        "CONTACT_METHODS",
        "SEXES",
        "LANGUAGES",
        "MAIL_MODES",
        "REFERENT_EVENTS",
    ):
        env.globals[name] = getattr(labels, name)
    env.filters.update(
        day=formats.day_fr,
        moment=formats.moment_fr,
        hours=formats.hours_fr,
        distance=formats.distance_fr,
        phone=formats.phone_fr,
    )
    return env


ENV = _environment()


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


def render(
    request: Request[Any, Any, Any],
    template: str,
    *,
    status: int = 200,
    fragment: bool = False,
    cookies: list[Cookie] | None = None,
    **context: Any,
) -> Response[str]:
    """The page (or, for htmx, its ``fragment`` block) as an HTML response."""
    state = request.app.state
    staff: Staff | None = request.scope.get("state", {}).get("staff")
    context.setdefault("staff", staff)
    context.setdefault("inbox_badge", request.scope.get("state", {}).get("inbox_badge"))
    context.setdefault("poll_seconds", state.settings.web_inbox_poll_seconds)
    context.setdefault("labels", state.labels)
    context.setdefault("path", request.url.path)
    context.setdefault(
        "current_url",
        str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
    )
    page = ENV.get_template(template)
    if fragment and is_htmx(request) and "fragment" in page.blocks:
        ctx = page.new_context(context)
        body = "".join(page.blocks["fragment"](ctx))
    else:
        body = page.render(context)
    return Response(
        body,
        status_code=status,
        media_type="text/html",  # Litestar adds "; charset=utf-8"
        headers={**SECURITY_HEADERS, "Vary": "HX-Request"},
        cookies=cookies or [],
    )
