"""Web app benchmark: public pages, the signed-in inbox and a referral's whole life through
the web forms, each against the API calls it wraps, timed in the same run.

1. starts `relais serve` (one process, every service, the web app at /) on a temporary
   RELAIS_HOME with the demo territory and its staff (SQLite), on BENCH_WEB_PORT (a free port
   if unset);
2. anonymous: the search page ``/annuaire?q=aide+alimentaire&commune=26000&rayon=20`` and its
   floor, the two directory calls the page makes (``/directory/v1/communes/26000``, then
   ``/directory/v1/search/services`` with the same query and page size); a fiche service page
   ``/services/{id}`` (a service with itinerant sessions, so all three calls are made) and its
   floor: the service, its structure and the structure's places;
3. signed in (the demo's Camille Martin, CCAS de Valence, and Lucas Roux, PIMMS Médiation
   Drôme, through /connexion and auth's login form): the PIMMS's inbox ``/orientations/recues``
   (twelve referrals: new, acknowledged, accepted) and its floor, the header's count
   (``/referrals/v1/inbox/count``) and the inbox's four sections (``/referrals/v1/inbox``,
   same filters and page size);
4. a referral's life, BENCH_WEB_LIFECYCLES times (default 50, after 5 for warm-up: each one
   writes two referrals through seven steps) — each lifecycle one referral through the forms and
   one through the API, step by step interleaved: « orienter » (the start page from the fiche,
   then « Commencer » and the person, need, consent and documents steps: 5 POSTs and the 6
   pages a browser GETs), « envoyer », the partner opening it, « accuser réception »,
   « accepter », « prendre en charge », « clôturer ». A browser follows each form's 303 with a
   GET: that GET is counted in the step, as the person waits for it. The forms carry what the
   pages gave (CSRF token, Idempotency-Key, version); the documents step posts multipart with
   no file, as a browser does. The floor of each step: the same API calls the step's requests
   make, in the same order (checked against the web app's calls: the header's count on each
   page, the directory reads of the start page, « Commencer » and the need step, the referral
   and its timeline — and the sender's colleagues — on the referral page, the POSTs with
   If-Match and an Idempotency-Key); the structure names the web app keeps for an hour are not
   asked again after the warm-up, by either;
5. the pages of 2 and 3 each BENCH_REPEAT times (default 200) after a warm-up, page and floor
   interleaved so both share the machine's noise, over one keep-alive connection each
   (bench/client.py: a client that costs next to nothing, so the figures are the server's; the
   browser side keeps its cookies per path); prints median and p90 of each and the ratio of
   medians, per page and per lifecycle step and for the whole lifecycle (the goal: a page
   at most 1.5× the calls it wraps).

The floor is the least a competent implementation must do for the same answer: the same API
calls (the web app reads and writes only through them), one after the other over one
connection, JSON decoded, nothing rendered and no session of its own. It calls the API with the
very access token the web app holds for that browser's session (read from the web app's table,
opened with its key): same account, same structure, same scopes. Where the web app makes calls
at once (the inbox's four sections, a referral and its timeline) the floor makes them one after
the other, as for the public pages: that favours the page a little, never the floor.

BENCH_WEB_SERVICES (default 0: the demo territory alone) adds that many generated services
(bench/search.py's generator: the demo's distributions, communes all over France by population)
to the SQLite directory before the server starts; ``BENCH_WEB_SERVICES=100000`` is the 100k size.

Run: ``.venv/bin/python -m bench web`` (from a git worktree, with ``PYTHONPATH=$PWD`` so the
server it starts runs that worktree's code, not the one the virtualenv was installed from: an
absolute path, as the server runs in a temporary folder, where ``.`` is that folder).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import msgspec

from bench.client import Connection, Reply
from bench.common import free_port, quantile
from services.demo_accounts import DEMO_PASSWORD
from services.kernel.firstparty import web_client_secret
from services.kernel.settings import Settings
from services.web.clients.referrals import AWAITING
from services.web.crypto import Sealer
from services.web.features.orientations.routes import SECTION_SIZE, SECTIONS
from services.web.features.orienter import form as f
from services.web.sessions import COOKIE as WEB_COOKIE
from services.web.store import digest
from tests.auth.helpers import hidden_fields
from tests.web.helpers import csrf_of, sign_in_browser
from tests.web.screenshots import RECEIVER, WORKER, serve_demo
from tests.web.test_browser_orientations import PIMMS, _structure

REPEAT = int(os.environ.get("BENCH_REPEAT", "200"))
PORT = int(os.environ.get("BENCH_WEB_PORT", "0")) or free_port()
WARMUP = 20
SEARCH_PAGE = "/annuaire?" + urlencode({"q": "aide alimentaire", "commune": "26000", "rayon": "20"})
PAGE_SIZE = 20  # the annuaire's page size (services/web/features/annuaire/routes.py)
SERVICES = int(os.environ.get("BENCH_WEB_SERVICES", "0"))
# Each lifecycle writes a referral twice (forms and API) through seven steps: fewer of them.
LIFECYCLES = int(os.environ.get("BENCH_WEB_LIFECYCLES", "50"))
LIFECYCLE_WARMUP = 5
BOUNDARY = "relais-bench-boundary"


def _add_services(home: Path) -> None:
    """SERVICES generated services more in the directory (after the demo's)."""
    from bench.search import corpus, generate, load_sqlite
    from services.kernel.db import Database
    from services.kernel.settings import load_settings

    async def load() -> None:
        settings = load_settings(environ={}, home=home, log_level="WARNING", worker_enabled=False)
        db = Database(settings, "directory")
        try:
            started = time.perf_counter()
            await load_sqlite(db, generate(corpus(), SERVICES, seed=7, first_doc_id=10_000_000))
            print(f"{SERVICES:,} services added in {time.perf_counter() - started:.0f} s")
        finally:
            await db.dispose()

    asyncio.run(load())


def _service_with_sessions(folder: Path) -> tuple[str, str]:
    """A published service that has itinerant sessions: (service id, structure id)."""
    db = sqlite3.connect(folder / "var" / "directory.db")
    try:
        row = db.execute(
            "SELECT v.id, v.structure_id FROM services v WHERE v.status = 'published' AND "
            "EXISTS (SELECT 1 FROM service_sessions s WHERE s.service_id = v.id) "
            "ORDER BY v.name LIMIT 1"
        ).fetchone()
        if row is None:
            row = db.execute(
                "SELECT id, structure_id FROM services WHERE status = 'published' LIMIT 1"
            ).fetchone()
    finally:
        db.close()
    return str(uuid.UUID(str(row[0]))), str(uuid.UUID(str(row[1])))


class Client:
    """One keep-alive connection, opened again if the server closed it while idle (uvicorn
    closes a connection after 5 s without a request: the setup's slow calls at 100k)."""

    def __init__(self) -> None:
        self.conn: Connection | None = None

    async def send(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> Reply:
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = await Connection.open(PORT)
            try:
                return await self.conn.request(method, path, headers, body)
            except (ConnectionError, asyncio.IncompleteReadError):
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def get(self, path: str, *, html: bool = False) -> bytes:
        headers = {"Accept": "text/html" if html else "application/json"}
        reply = await self.send("GET", path, headers)
        if reply.status != 200:
            raise RuntimeError(f"GET {path}: {reply.status} {reply.body[:200]!r}")
        return reply.body

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()


class Browser(Client):
    """A signed-in browser: its cookies (each sent on the path it was set for, as a browser
    does), pages asked as HTML, forms posted and their 303 followed by a GET, as a browser
    does."""

    def __init__(self, session_key: str) -> None:
        super().__init__()
        self.jar: dict[tuple[str, str], str] = {("/", WEB_COOKIE): session_key}

    def _headers(self, path: str) -> dict[str, str]:
        path = path.split("?", 1)[0]
        cookies = "; ".join(
            f"{name}={value}"
            for (scope, name), value in self.jar.items()
            if path == scope or path.startswith(scope.rstrip("/") + "/")
        )
        return {"Accept": "text/html", "Cookie": cookies}

    def _keep(self, reply: Reply) -> None:
        for line in reply.set_cookies:
            pair, *attributes = line.split(";")
            name, _, value = pair.strip().partition("=")
            options = {
                k.strip().lower(): v.strip() for k, _, v in (a.partition("=") for a in attributes)
            }
            key = (options.get("path", "/"), name)
            if not value or options.get("max-age") == "0":
                self.jar.pop(key, None)
            else:
                self.jar[key] = value

    async def page(self, path: str) -> str:
        reply = await self.send("GET", path, self._headers(path))
        if reply.status != 200:
            raise RuntimeError(f"GET {path}: {reply.status} {reply.body[:300]!r}")
        self._keep(reply)
        return reply.body.decode()

    async def submit(
        self, path: str, form: dict[str, str | list[str]], *, multipart: bool = False
    ) -> tuple[str, str]:
        """POST the form (urlencoded, or multipart with an empty file field like a browser's
        form with no file chosen), then GET where the 303 says: (that path, its page)."""
        headers = self._headers(path)
        if multipart:
            body = _multipart(form)
            headers["Content-Type"] = f"multipart/form-data; boundary={BOUNDARY}"
        else:
            body = urlencode(form, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        reply = await self.send("POST", path, headers, body)
        if reply.status != 303:
            raise RuntimeError(f"POST {path}: {reply.status} {reply.body[:300]!r}")
        self._keep(reply)
        location = reply.headers["location"]
        return location, await self.page(location)


class Api(Client):
    """The API as the web app calls it for the signed-in person: the same bearer token, JSON
    decoded (``token`` reads it again if it was renewed meanwhile)."""

    def __init__(self, token: Callable[[], str]) -> None:
        super().__init__()
        self.read_token = token
        self.token = token()

    async def call(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        if params:
            path += "?" + urlencode(params, doseq=True)
        body = b"" if json is None else msgspec.json.encode(json)
        for attempt in (1, 2):
            sent = {"Accept": "application/json", "Authorization": f"Bearer {self.token}"}
            if json is not None:
                sent["Content-Type"] = "application/json"
            reply = await self.send(method, path, {**sent, **(headers or {})}, body)
            if reply.status == 401 and attempt == 1:
                self.token = self.read_token()
                continue
            if reply.status >= 300:
                raise RuntimeError(f"{method} {path}: {reply.status} {reply.body[:300]!r}")
            return msgspec.json.decode(reply.body)
        raise AssertionError("unreachable")


def _multipart(form: dict[str, str | list[str]]) -> bytes:
    parts = []
    for name, values in form.items():
        for value in [values] if isinstance(values, str) else values:
            parts.append(
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            )
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="document"; filename=""\r\n'
        "Content-Type: application/octet-stream\r\n\r\n\r\n"
    )
    return ("".join(parts) + f"--{BOUNDARY}--\r\n").encode()


async def _time(
    runs: dict[str, Callable[[], Awaitable[None]]], repeat: int
) -> dict[str, list[float]]:
    for _ in range(WARMUP):
        for run in runs.values():
            await run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            started = time.perf_counter()
            await run()
            times[name].append((time.perf_counter() - started) * 1000)
    return times


def _report(title: str, page: list[float], floor: list[float]) -> None:
    median_page, median_floor = quantile(page, 0.5), quantile(floor, 0.5)
    print(
        f"{title}: page median {median_page:.2f} ms (p90 {quantile(page, 0.9):.2f}), "
        f"API calls median {median_floor:.2f} ms (p90 {quantile(floor, 0.9):.2f}) "
        f"-> ratio {median_page / median_floor:.2f}x (goal <= 1.5x)",
        flush=True,
    )


async def _public(folder: Path) -> None:
    page_conn, api_conn = Client(), Client()
    directory = "/directory/v1"
    try:
        communes = msgspec.json.decode(await api_conn.get(f"{directory}/communes/26000"))
        code = communes[0]["code"]
        search = f"{directory}/search/services?" + urlencode(
            {"q": "aide alimentaire", "commune": code, "radius_km": 20, "limit": PAGE_SIZE}
        )
        hits = msgspec.json.decode(await api_conn.get(search))
        assert hits["items"], "the demo search found nothing"

        async def search_page() -> None:
            await page_conn.get(SEARCH_PAGE, html=True)

        async def search_floor() -> None:
            msgspec.json.decode(await api_conn.get(f"{directory}/communes/26000"))
            msgspec.json.decode(await api_conn.get(search))

        service_id, structure_id = _service_with_sessions(folder)
        places = f"{directory}/places?" + urlencode(
            {"structure_id": structure_id, "status": "published", "limit": 200}
        )

        async def fiche_page() -> None:
            await page_conn.get(f"/services/{service_id}", html=True)

        async def fiche_floor() -> None:
            msgspec.json.decode(await api_conn.get(f"{directory}/services/{service_id}"))
            msgspec.json.decode(await api_conn.get(f"{directory}/structures/{structure_id}"))
            msgspec.json.decode(await api_conn.get(places))

        size = f"demo territory + {SERVICES:,} services" if SERVICES else "demo territory"
        print(f"{size}, {REPEAT} requests each, one keep-alive connection each", flush=True)
        times = await _time({"page": search_page, "floor": search_floor}, REPEAT)
        _report("annuaire search", times["page"], times["floor"])
        times = await _time({"page": fiche_page, "floor": fiche_floor}, REPEAT)
        _report("fiche service  ", times["page"], times["floor"])
    finally:
        await page_conn.close()
        await api_conn.close()


# ---- signed in: the inbox and a referral's whole life through the forms ---------------------

REFERRALS, AUTH = "/referrals/v1", "/auth/v1"
BADGE = {"state": list(AWAITING)}  # the header's count, on every whole page a browser GETs


def _access_token(folder: Path, session_key: str) -> str:
    """The access token the web app holds for that browser's session (sealed in its table,
    opened with the web app's key): the floor calls the API with the very same token."""
    home = folder / "var"
    db = sqlite3.connect(home / "web.db")
    try:
        row = db.execute(
            "SELECT id, access_token FROM web_sessions WHERE key_hash = ?", (digest(session_key),)
        ).fetchone()
    finally:
        db.close()
    token = Sealer(web_client_secret(Settings(home=home))).open(row[1], str(uuid.UUID(str(row[0]))))
    assert token, "the web session's token could not be opened"
    return token


async def _signed_in(folder: Path, email: str) -> tuple[Browser, Api]:
    """Signed in through /connexion and auth's login form (httpx: setup, not timed); the page
    side then goes on with the session's cookie, the floor with the session's token."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{PORT}") as b:
        await sign_in_browser(b, email, DEMO_PASSWORD)
        key = b.cookies.get(WEB_COOKIE)
    assert key, f"{email} is not signed in"
    return Browser(key), Api(lambda: _access_token(folder, key))


async def _badge(api: Api) -> None:
    await api.call("GET", f"{REFERRALS}/inbox/count", BADGE)


async def _referral_page(api: Api, referral_id: str, *, origin: bool) -> Any:
    """What the referral page asks the API (the structure names are cached by the web app for
    an hour: none after the warm-up)."""
    await _badge(api)
    referral = await api.call("GET", f"{REFERRALS}/referrals/{referral_id}")
    await api.call("GET", f"{REFERRALS}/referrals/{referral_id}/timeline", {"limit": 200})
    if origin:  # the sender's page names the referent among the colleagues
        await api.call("GET", f"{AUTH}/structures/{referral['structure_id']}/colleagues")
    return referral


def _form(page: str, action_end: str) -> tuple[str, dict[str, str | list[str]]]:
    """The form of the page that posts to ``…action_end``: (its action, its hidden fields)."""
    found = re.search(
        r'<form method="post" action="([^"]*' + re.escape(action_end) + r')"[^>]*>(.*?)</form>',
        page,
        re.S,
    )
    assert found, f"no form {action_end} on the page"
    fields = {k: unescape(v) for k, v in hidden_fields(found.group(2)).items()}
    return unescape(found.group(1)), dict(fields)


@dataclass
class Target:
    structure_id: str
    service_id: str
    thematiques: list[str]


def _forms(target: Target, n: int) -> dict[str, dict[str, str | list[str]]]:
    """What the agent types at each step of « Orienter une personne » (the rest: as proposed)."""
    expires = f.add_months(date.today(), f.CONSENT_MONTHS).isoformat()
    return {
        "personne": {
            "first_name": "Odette",
            "last_name": f"Banc-{n}",
            "contact_method": "phone",
            "phone": "06 11 22 33 44",
        },
        "besoin": {
            "thematiques": target.thematiques,
            "summary": "Dossier de surendettement à constituer.",
            "urgency": "normal",
            "channel": "walk_in",
            "age_band": "unknown",
            "sex": "unknown",
        },
        "consentement": {
            "given_by": "person",
            "method": "oral",
            "purpose": "Constituer son dossier et l’accompagner",
            "data_categories": list(f.DEFAULT_CATEGORIES),
            "recipients": [target.structure_id],
            "expires_on": expires,
        },
    }


def _create_body(target: Target, n: int) -> dict[str, Any]:
    """The API request the form sends for the same answers (the web app's own builder)."""
    partner = f.Partner(
        structure_id=uuid.UUID(target.structure_id),
        structure_name="",
        service_id=uuid.UUID(target.service_id),
    )
    fields = {
        step: {k: [v] if isinstance(v, str) else v for k, v in values.items()}
        for step, values in _forms(target, n).items()
    }
    return f.request_body(f.Values(target=partner, fields=fields))


# A lifecycle's steps: what it is called, in requests the browser makes -> its methods.
STEPS = {
    "orienter (11 requests)": "orient",
    "envoyer (POST + GET)": "send",
    "ouvrir (partner, GET)": "open",
    "accuser réception (POST + GET)": "acknowledge",
    "accepter (POST + GET)": "accept",
    "prendre en charge (POST + GET)": "take_over",
    "clôturer (POST + GET)": "close",
}


class Lifecycle:
    """One referral's life, step by step, twice: through the web forms (CCAS agent, then the
    PIMMS mediator) and as the same API calls with the same tokens (the floor)."""

    def __init__(
        self, sender: tuple[Browser, Api], receiver: tuple[Browser, Api], target: Target
    ) -> None:
        (self.ccas, self.ccas_api), (self.pimms, self.pimms_api) = sender, receiver
        self.target = target
        self.n = 0
        self.draft = self.csrf = self.path = self.page = ""
        self.referral: Any = None

    # -- the web forms --

    async def web_orient(self) -> None:
        self.n += 1
        start = await self.ccas.page(f"/orienter?service={self.target.service_id}")
        self.csrf = csrf_of(start)
        begun, _ = await self.ccas.submit(
            "/orienter", {"csrf_token": self.csrf, "service_id": self.target.service_id}
        )
        self.draft = begun.rsplit("/", 1)[0]
        for step, form in _forms(self.target, self.n).items():
            await self.ccas.submit(f"{self.draft}/{step}", {**form, "csrf_token": self.csrf})
        last, _ = await self.ccas.submit(
            f"{self.draft}/documents",
            {"csrf_token": self.csrf, "action": "continuer"},
            multipart=True,
        )
        assert last.endswith("/verification"), last

    async def web_send(self) -> None:
        self.path, _ = await self.ccas.submit(f"{self.draft}/envoyer", {"csrf_token": self.csrf})
        assert re.fullmatch(r"/orientations/[0-9a-f-]{36}", self.path), self.path

    async def web_open(self) -> None:
        self.page = await self.pimms.page(self.path)

    async def _web_act(self, action_end: str, typed: dict[str, str | list[str]]) -> None:
        action, hidden = _form(self.page, action_end)
        _, self.page = await self.pimms.submit(action, {**hidden, **typed})

    async def web_acknowledge(self) -> None:
        await self._web_act("/accuser-reception", {})

    async def web_accept(self) -> None:
        await self._web_act("/accepter", {})

    async def web_take_over(self) -> None:
        await self._web_act("/prendre-en-charge", {})

    async def web_close(self) -> None:
        await self._web_act("/cloturer", {"issue": "solution_found", "note": "4"})
        assert "Votre part de l’orientation est clôturée" in self.page

    # -- the floor: the API calls each step's pages make --

    async def floor_orient(self) -> None:
        api, directory = self.ccas_api, "/directory/v1"
        service = f"{directory}/services/{self.target.service_id}"
        structure = f"{directory}/structures/{self.target.structure_id}"
        await _badge(api)  # the start page: the service and its structure
        await api.call("GET", service)
        await api.call("GET", structure)
        await api.call("GET", service)  # « Commencer »: the partner, by name
        await api.call("GET", structure)
        await _badge(api)  # personne
        await _badge(api)  # besoin: the service's thematiques proposed
        await api.call("GET", service)
        for _ in ("consentement", "documents", "verification"):
            await _badge(api)

    async def floor_send(self) -> None:
        created = await self.ccas_api.call(
            "POST",
            f"{REFERRALS}/referrals",
            json=_create_body(self.target, self.n),
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        self.referral = await _referral_page(self.ccas_api, created["id"], origin=True)

    async def floor_open(self) -> None:
        self.referral = await _referral_page(self.pimms_api, self.referral["id"], origin=False)

    async def _floor_act(self, action: str, body: Any = None) -> None:
        referral_id = self.referral["id"]
        if action == "close":
            path, version = f"{REFERRALS}/referrals/{referral_id}/close", self.referral["version"]
        else:
            handoff = self.referral["handoffs"][-1]
            path = f"{REFERRALS}/referrals/{referral_id}/handoffs/{handoff['id']}/{action}"
            version = handoff["version"]
        await self.pimms_api.call(
            "POST",
            path,
            json=body,
            headers={"If-Match": f'"{version}"', "Idempotency-Key": uuid.uuid4().hex},
        )
        self.referral = await _referral_page(self.pimms_api, referral_id, origin=False)

    async def floor_acknowledge(self) -> None:
        await self._floor_act("acknowledge")

    async def floor_accept(self) -> None:
        await self._floor_act("accept")

    async def floor_take_over(self) -> None:
        await self._floor_act("take-over")

    async def floor_close(self) -> None:
        body = {"outcome": "solution_found", "evaluation_score": 4, "evaluation_comment": None}
        await self._floor_act("close", body)
        # The partner closes its part: the referral ends when the sender closes its own.
        assert self.referral["status"] == "taken_over", self.referral["status"]

    async def run(self, repeat: int, warmup: int) -> dict[str, dict[str, list[float]]]:
        """``warmup + repeat`` lifecycles, each a new referral by the forms then one by the
        API, step by step interleaved (a step of the page, the same step of the floor)."""
        times: dict[str, dict[str, list[float]]] = {
            name: {"page": [], "floor": []} for name in STEPS
        }
        for i in range(warmup + repeat):
            for name, step in STEPS.items():
                for side, prefix in (("page", "web_"), ("floor", "floor_")):
                    run: Callable[[], Awaitable[None]] = getattr(self, prefix + step)
                    started = time.perf_counter()
                    await run()
                    if i >= warmup:
                        times[name][side].append((time.perf_counter() - started) * 1000)
        return times


async def _target(folder: Path, api: Api) -> Target:
    """The PIMMS's first service taking referrals, with the thematiques its fiche proposes."""
    structure_id, service_id, _ = _structure(folder, PIMMS)
    service = await api.call("GET", f"/directory/v1/services/{service_id}")
    thematiques = [t for t in service["thematiques"] if "--" in t]
    return Target(str(structure_id), service_id, thematiques)


async def _fill_inbox(sender: Api, receiver: Api, target: Target, each: int = 4) -> None:
    """Something in each section of the PIMMS's inbox: new, acknowledged, accepted."""
    for n in range(3 * each):
        created = await sender.call(
            "POST",
            f"{REFERRALS}/referrals",
            json=_create_body(target, n),
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        for action in ("acknowledge", "accept")[: n // each]:
            referral = await receiver.call("GET", f"{REFERRALS}/referrals/{created['id']}")
            handoff = referral["handoffs"][-1]
            await receiver.call(
                "POST",
                f"{REFERRALS}/referrals/{created['id']}/handoffs/{handoff['id']}/{action}",
                headers={
                    "If-Match": f'"{handoff["version"]}"',
                    "Idempotency-Key": uuid.uuid4().hex,
                },
            )


async def _signed(folder: Path) -> None:
    sender = await _signed_in(folder, WORKER)
    receiver = await _signed_in(folder, RECEIVER)
    pimms, pimms_api = receiver
    try:
        target = await _target(folder, sender[1])
        await _fill_inbox(sender[1], pimms_api, target)

        async def inbox_page() -> None:
            await pimms.page("/orientations/recues")

        async def inbox_floor() -> None:
            for _, _, _, params in SECTIONS:
                await pimms_api.call("GET", f"{REFERRALS}/inbox", {**params, "limit": SECTION_SIZE})
            await _badge(pimms_api)

        print(f"signed in ({WORKER}, {RECEIVER}), {REPEAT} requests each", flush=True)
        times = await _time({"page": inbox_page, "floor": inbox_floor}, REPEAT)
        _report("orientations reçues", times["page"], times["floor"])
        print(
            f"a referral's life through the forms, {LIFECYCLES} lifecycles (after "
            f"{LIFECYCLE_WARMUP}), each step: the browser's requests vs the API calls they make",
            flush=True,
        )
        steps = await Lifecycle(sender, receiver, target).run(LIFECYCLES, LIFECYCLE_WARMUP)
        width = max(len(name) for name in steps)
        for name, both in steps.items():
            _report(name.ljust(width), both["page"], both["floor"])
        whole = {
            side: [sum(one) for one in zip(*(both[side] for both in steps.values()), strict=True)]
            for side in ("page", "floor")
        }
        _report("whole lifecycle".ljust(width), whole["page"], whole["floor"])
    finally:
        for client in (*sender, *receiver):
            await client.close()


async def _measure(folder: Path) -> None:
    await _public(folder)
    await _signed(folder)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="relais-bench-web-") as home:
        folder = Path(home)
        process = serve_demo(folder, PORT, _add_services if SERVICES else None)
        try:
            asyncio.run(_measure(folder))
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
