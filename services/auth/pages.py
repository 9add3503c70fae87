"""Server-rendered French pages (Jinja2, autoescaped) and their cookies (session, CSRF)."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Request, Response
from litestar.datastructures import Cookie

from services.auth.crypto import random_token
from services.kernel.settings import Settings

PREFIX = "/auth"
SESSION_COOKIE = "relais_session"
CSRF_COOKIE = "relais_csrf"
_env = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(default=True),
)
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self' http: https:; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _secure(settings: Settings) -> bool:
    return settings.base_url.startswith("https://")


def csrf_value(request: Request[Any, Any, Any]) -> str:
    """The CSRF token of this browser (double-submit cookie), created if missing."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and 20 <= len(existing) <= 100:
        return existing
    token: str = request.scope.setdefault("state", {}).setdefault("relais_csrf", random_token(24))
    return token


def csrf_ok(request: Request[Any, Any, Any], submitted: str | None) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    return bool(cookie and submitted) and hmac.compare_digest(str(cookie), str(submitted))


def render(
    request: Request[Any, Any, Any],
    template: str,
    *,
    status: int = 200,
    cookies: list[Cookie] | None = None,
    **context: Any,
) -> Response[str]:
    settings: Settings = request.app.state.settings
    csrf = csrf_value(request)
    context.setdefault("error", None)
    context.setdefault("info", None)
    body = _env.get_template(template).render(prefix=PREFIX, csrf=csrf, **context)
    all_cookies = list(cookies or [])
    if request.cookies.get(CSRF_COOKIE) != csrf:
        all_cookies.append(
            Cookie(
                key=CSRF_COOKIE,
                value=csrf,
                path=PREFIX,
                httponly=True,
                secure=_secure(settings),
                samesite="lax",
            )
        )
    return Response(
        body,
        status_code=status,
        media_type="text/html",  # Litestar adds "; charset=utf-8"
        headers=SECURITY_HEADERS,
        cookies=all_cookies,
    )


def session_cookie(settings: Settings, value: str, *, max_age: int | None = None) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=value,
        path=PREFIX,
        httponly=True,
        secure=_secure(settings),
        samesite="lax",
        max_age=max_age,
    )


def message(
    request: Request[Any, Any, Any], title: str, text: str, *, status: int = 400, error: bool = True
) -> Response[str]:
    if error:
        return render(request, "message.html", status=status, title=title, error=text)
    return render(request, "message.html", status=status, title=title, info=text)
