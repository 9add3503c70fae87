"""Jinja2 rendering of the French mail templates (plain text and HTML, autoescaped)."""

from __future__ import annotations

import uuid
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).parent / "templates"


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
    )


def render(template: str, **context: Any) -> tuple[str, str]:
    """The (text, html) bodies of ``template``."""
    env = environment()
    text = env.get_template(f"{template}.txt.j2").render(**context)
    html = env.get_template(f"{template}.html.j2").render(**context)
    return text, html


def reference(referral_id: uuid.UUID) -> str:
    """A short reference staff can quote on the phone (not personal data)."""
    return f"OR-{referral_id.hex[-8:].upper()}"


def referral_link(base_url: str, referral_id: uuid.UUID) -> str:
    """The referral's page in the staff web app (served at the root of RELAIS_BASE_URL): a
    person opens mail links in a browser, never an API URL."""
    return f"{base_url.rstrip('/')}/orientations/{referral_id}"


def integrations_link(base_url: str) -> str:
    """The web app's page where a structure's administrators manage their webhooks."""
    return f"{base_url.rstrip('/')}/integrations"
