"""« Orienter une personne »: from a fiche service or from scratch, step by step (the person,
the need, the partner, the consent, documents), a review, then « Envoyer ».

Every step is a plain form that posts and redirects (no JavaScript needed). What the person
typed stays server-side, sealed, in a draft bound to the web session (``services.web.drafts``);
URLs carry only the draft's random id. The draft's Idempotency-Key goes with the creation, so a
double click, a reload or two tabs send one referral. Then the referral's page
(``/orientations/{id}``) takes over; the consent receipt is ``/orientations/{id}/recepisse``.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException

from services.kernel.clock import utcnow
from services.kernel.settings import Settings
from services.web.clients.base import ApiError
from services.web.clients.directory import DirectoryApi, SearchPage, ServiceHit
from services.web.clients.referrals import ReferralsApi
from services.web.deps import Forbidden, Form, check_csrf, one
from services.web.drafts import Draft, Drafts
from services.web.features.annuaire.routes import commune_label, resolve_commune
from services.web.features.connexion.routes import see_other
from services.web.features.orientations.lien_suivi import code_cookie, follow_up_link
from services.web.features.orientations.names import StructureNames
from services.web.features.orientations.view import reference
from services.web.features.orienter import form as f
from services.web.formats import PARIS
from services.web.rendering import query, render
from services.web.sessions import Staff

MAX_DOCUMENTS = 5
SEARCH_SIZE = 10
# Accepted documents, told by their first bytes (the name and the browser's type are not proof).
SIGNATURES = {
    b"%PDF-": "application/pdf",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
}


def _today() -> date:
    return utcnow().astimezone(PARIS).date()


def _url(draft_id: uuid.UUID, step: str, **params: Any) -> str:
    return query(f"/orienter/{draft_id}/{step}", params)


def _structure(staff: Staff) -> uuid.UUID:
    if staff.structure_id is None:
        raise Forbidden(
            "Pour orienter une personne, choisissez d’abord la structure pour laquelle "
            "vous agissez."
        )
    return staff.structure_id


class Orienter(Controller):
    path = "/orienter"
    include_in_schema = False

    async def _draft(
        self, request: Request[Any, Any, Any], staff: Staff, draft_id: uuid.UUID
    ) -> tuple[Draft, f.Values]:
        draft = await _drafts(request).get(staff.session_id, draft_id)
        if draft is None:
            raise ApiError.not_found()
        return draft, f.decode(draft.values)

    async def _save(self, request: Request[Any, Any, Any], draft: Draft, values: f.Values) -> None:
        await _drafts(request).save(draft.id, f.encode(values))

    def _page(
        self,
        request: Request[Any, Any, Any],
        template: str,
        draft: Draft,
        values: f.Values,
        step: str,
        *,
        status: int = 200,
        shown: dict[str, list[str]] | None = None,
        **context: Any,
    ) -> Response[Any]:
        typed = shown or {}
        return render(
            request,
            f"orienter/{template}",
            val=lambda name: (typed.get(name) or [""])[0],
            vals=lambda name: list(typed.get(name, [])),
            status=status,
            title=f"{f.STEPS[step]} — Orienter une personne",
            draft=draft,
            values=values,
            step=step,
            steps=f.STEPS,
            field_labels=f.FIELD_LABELS,
            **context,
        )

    # ---- start -----------------------------------------------------------------------------

    @get()
    async def start(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        directory: DirectoryApi,
        service: uuid.UUID | None = None,
        abandon: str = "",
    ) -> Response[Any]:
        """What will be asked, before anything is typed; « Commencer » opens a draft."""
        _structure(staff)
        chosen = structure = None
        if service is not None:
            chosen, _ = await directory.service(service)
            structure, _ = await directory.structure(chosen.structure_id)
        return render(
            request,
            "orienter/debut.html",
            title="Orienter une personne",
            service=chosen,
            structure=structure,
            abandoned=bool(abandon),
        )

    @post()
    async def begin(
        self, request: Request[Any, Any, Any], staff: Staff, directory: DirectoryApi, form: Form
    ) -> Response[Any]:
        structure_id = _structure(staff)
        values = f.Values()
        service_id = one(form, "service_id")
        if service_id:
            values.target = await _partner(directory, _uuid(service_id))
        draft_id = await _drafts(request).start(staff.session_id, structure_id, f.encode(values))
        return see_other(_url(draft_id, "personne"))

    # ---- the person, the need, the consent -------------------------------------------------

    @get("/{draft_id:uuid}/{step:str}")
    async def step(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        directory: DirectoryApi,
        draft_id: uuid.UUID,
        step: str,
        retour: str = "",
    ) -> Response[Any]:
        draft, values = await self._draft(request, staff, draft_id)
        if draft.referral_id is not None:
            return see_other(f"/orientations/{draft.referral_id}")
        if step not in f.FIELDS:
            raise ApiError.not_found()
        shown = values.fields.get(step)
        if shown is None:
            thematiques: list[str] = []
            if step == "besoin" and values.target and values.target.service_id:
                service, _ = await directory.service(values.target.service_id)
                thematiques = service.thematiques
            shown = f.defaults(step, values, _today(), thematiques)
        return self._page(
            request,
            f"{step}.html",
            draft,
            values,
            step,
            shown=shown,
            errors=values.errors.get(step, {}),
            retour=retour == "verification",
            age_bands=request.app.state.settings.age_bands,
        )

    @post("/{draft_id:uuid}/{step:str}")
    async def save_step(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        form: Form,
        draft_id: uuid.UUID,
        step: str,
    ) -> Response[Any]:
        draft, values = await self._draft(request, staff, draft_id)
        if draft.referral_id is not None:
            return see_other(f"/orientations/{draft.referral_id}")
        if step not in f.FIELDS:
            raise ApiError.not_found()
        kept, errors = f.read_step(step, form, values.target)
        values.fields[step] = kept
        if step == "consentement" and one(form, "aller") == "destinataire":
            # Kept as typed (checked when the step is sent), while another partner is found.
            await self._save(request, draft, values)
            return see_other(_url(draft.id, "partenaire", pour="destinataire"))
        if errors:
            values.errors[step] = errors
            if step in values.done:
                values.done.remove(step)
            await self._save(request, draft, values)
            return self._page(
                request,
                f"{step}.html",
                draft,
                values,
                step,
                status=422,
                shown=kept,
                errors=errors,
                retour=one(form, "retour") == "verification",
                age_bands=request.app.state.settings.age_bands,
            )
        values.errors.pop(step, None)
        if step not in values.done:
            values.done.append(step)
        await self._save(request, draft, values)
        if one(form, "aller") == "precedent":
            return see_other(_url(draft.id, f.previous_step(step, values)))
        if one(form, "retour") == "verification":
            return see_other(_url(draft.id, "verification"))
        return see_other(_url(draft.id, f.next_step(step, values)))

    # ---- the partner, found in the annuaire ------------------------------------------------

    @get("/{draft_id:uuid}/partenaire")
    async def partner(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        directory: DirectoryApi,
        draft_id: uuid.UUID,
        q: str = "",
        commune: str = "",
        pour: str = "cible",
        retour: str = "",
    ) -> Response[Any]:
        """Search the annuaire without leaving the form; each result can be chosen."""
        draft, values = await self._draft(request, staff, draft_id)
        if draft.referral_id is not None:
            return see_other(f"/orientations/{draft.referral_id}")
        q, commune = q.strip()[:200], commune.strip()[:120]
        place, candidates = await resolve_commune(directory, commune)
        results: SearchPage[ServiceHit] | None = None
        problem = None
        # Nothing typed yet: the services of the need's thematiques.
        thematiques = [] if q else values.many("besoin", "thematiques")
        if commune and place is None and not candidates:
            problem = f"Nous ne trouvons pas la commune « {commune} »."
        elif not candidates and (q or place or thematiques):
            try:
                results = await directory.search_services(
                    {
                        "q": q or None,
                        "thematiques": thematiques,
                        "commune": place.code if place else None,
                        "limit": SEARCH_SIZE,
                    }
                )
            except ApiError as exc:
                if exc.status not in (400, 422):
                    raise
                problem = "Cette recherche n’a pas pu être faite : " + (
                    "; ".join(exc.field_errors().values()) or exc.problem.detail or ""
                )
        return self._page(
            request,
            "partenaire.html",
            draft,
            values,
            "partenaire" if pour == "cible" else "consentement",
            q=q,
            commune=commune_label(place) if place else commune,
            candidates=candidates,
            commune_label=commune_label,
            results=results,
            problem=problem,
            pour="destinataire" if pour == "destinataire" else "cible",
            retour=retour == "verification",
            errors=values.errors.get("partenaire", {}),
        )

    @post("/{draft_id:uuid}/partenaire")
    async def choose(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        directory: DirectoryApi,
        form: Form,
        draft_id: uuid.UUID,
    ) -> Response[Any]:
        draft, values = await self._draft(request, staff, draft_id)
        if draft.referral_id is not None:
            return see_other(f"/orientations/{draft.referral_id}")
        chosen = await _partner(directory, _uuid(one(form, "service_id")))
        if one(form, "pour") == "destinataire":
            if all(p.structure_id != chosen.structure_id for p in values.partners):
                values.partners.append(chosen)
            consent = values.fields.setdefault(
                "consentement", f.defaults("consentement", values, _today(), [])
            )
            listed = consent.setdefault("recipients", [])
            if str(chosen.structure_id) not in listed:
                listed.append(str(chosen.structure_id))
            await self._save(request, draft, values)
            return see_other(_url(draft.id, "consentement") + "#destinataires")
        before = values.target
        values.target = chosen
        values.errors.pop("partenaire", None)
        consent_fields = values.fields.get("consentement")
        if consent_fields is not None and before is not None:
            # The consent named the previous target: it names the new one instead.
            listed = consent_fields.get("recipients", [])
            if str(before.structure_id) in listed:
                listed.remove(str(before.structure_id))
                listed.insert(0, str(chosen.structure_id))
        await self._save(request, draft, values)
        if one(form, "retour") == "verification":
            return see_other(_url(draft.id, "verification"))
        return see_other(_url(draft.id, "consentement"))

    # ---- documents -------------------------------------------------------------------------

    @get("/{draft_id:uuid}/documents")
    async def documents(
        self, request: Request[Any, Any, Any], staff: Staff, draft_id: uuid.UUID, retour: str = ""
    ) -> Response[Any]:
        draft, values = await self._draft(request, staff, draft_id)
        if draft.referral_id is not None:
            return see_other(f"/orientations/{draft.referral_id}")
        return self._documents(request, draft, values, retour=retour == "verification")

    def _documents(
        self,
        request: Request[Any, Any, Any],
        draft: Draft,
        values: f.Values,
        *,
        status: int = 200,
        error: str | None = None,
        retour: bool = False,
    ) -> Response[Any]:
        settings: Settings = request.app.state.settings
        return self._page(
            request,
            "documents.html",
            draft,
            values,
            "documents",
            status=status,
            errors={"documents": error} if error else {},
            max_documents=MAX_DOCUMENTS,
            max_size=settings.referrals_attachment_max_bytes,
            retour=retour,
        )

    @post("/{draft_id:uuid}/documents")
    async def add_document(
        self, request: Request[Any, Any, Any], staff: Staff, draft_id: uuid.UUID
    ) -> Response[Any]:
        """Join a document (multipart), remove one, or go on."""
        draft, values = await self._draft(request, staff, draft_id)
        limit = request.app.state.settings.referrals_attachment_max_bytes
        try:
            data = await request.form()
        except HTTPException as exc:
            if exc.status_code != 413:
                raise
            # Too large to read: nothing changes, the step says why.
            error = f"le document dépasse {limit // 1000} ko"
            return self._documents(request, draft, values, status=413, error=error)
        check_csrf(request, staff, str(data.get("csrf_token") or ""))
        if draft.referral_id is not None:
            return see_other(f"/orientations/{draft.referral_id}")
        retour = str(data.get("retour") or "") == "verification"
        action = str(data.get("action") or "")
        drafts = _drafts(request)
        if action.startswith("retirer:"):
            await drafts.remove_document(draft.id, _uuid(action.removeprefix("retirer:")))
            return see_other(_url(draft.id, "documents", retour="verification" if retour else ""))
        if action == "continuer":
            if "documents" not in values.done:
                values.done.append("documents")
                await self._save(request, draft, values)
            return see_other(_url(draft.id, "verification"))
        upload = data.get("document")
        content = b""
        filename = "document"
        if isinstance(upload, UploadFile):
            content = await upload.read()
            filename = str(upload.filename or filename)
        refusal = self._refused(request, draft, content)
        if refusal:
            return self._documents(request, draft, values, status=422, error=refusal, retour=retour)
        await drafts.add_document(draft.id, filename[:200], _content_type(content), content)
        return see_other(_url(draft.id, "documents", retour="verification" if retour else ""))

    def _refused(self, request: Request[Any, Any, Any], draft: Draft, content: bytes) -> str | None:
        limit = request.app.state.settings.referrals_attachment_max_bytes
        if len(draft.documents) >= MAX_DOCUMENTS:
            return f"{MAX_DOCUMENTS} documents au plus par orientation"
        if not content:
            return "choisissez un fichier (PDF, PNG ou JPEG)"
        if len(content) > limit:
            return f"le document dépasse {limit // 1000} ko"
        if not _content_type(content):
            return "type de document non accepté : PDF, PNG ou JPEG seulement"
        return None

    # ---- review and send -------------------------------------------------------------------

    @get("/{draft_id:uuid}/verification")
    async def review(
        self, request: Request[Any, Any, Any], staff: Staff, draft_id: uuid.UUID
    ) -> Response[Any]:
        draft, values = await self._draft(request, staff, draft_id)
        if draft.referral_id is not None:
            return see_other(f"/orientations/{draft.referral_id}")
        missing = values.missing()
        if missing:
            return see_other(_url(draft.id, missing))
        return self._review(request, staff, draft, values)

    def _review(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        draft: Draft,
        values: f.Values,
        *,
        status: int = 200,
        problem: str | None = None,
    ) -> Response[Any]:
        return self._page(
            request,
            "verification.html",
            draft,
            values,
            "verification",
            status=status,
            problem=problem,
            expires_on=f.day(values.one("consentement", "expires_on")),
            other_structure=draft.structure_id != staff.structure_id,
            errors=values.errors,
        )

    @post("/{draft_id:uuid}/envoyer")
    async def send(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        referrals: ReferralsApi,
        form: Form,
        draft_id: uuid.UUID,
    ) -> Response[Any]:
        draft, values = await self._draft(request, staff, draft_id)
        drafts = _drafts(request)
        referral_id = draft.referral_id
        cookies = []
        if referral_id is None:
            if values.missing():
                return see_other(_url(draft.id, values.missing() or "verification"))
            if draft.structure_id != staff.structure_id:
                return self._review(request, staff, draft, values, status=409)
            try:
                created = await referrals.create_referral(
                    f.request_body(values), draft.idempotency_key
                )
            except ApiError as exc:
                if exc.status not in (409, 422):
                    raise
                values.errors = f.place_errors(exc.field_errors())
                await self._save(request, draft, values)
                first = next(
                    (s for s in f.STEPS if s in values.errors and s != "verification"), None
                )
                if first:
                    return see_other(_url(draft.id, first, retour="verification"))
                return self._review(
                    request, staff, draft, values, status=exc.status, problem=exc.problem.detail
                )
            referral_id = created.id
            if created.follow_up_code:
                # Shown once, on the referral page and the receipt, to hand to the person.
                cookies.append(code_cookie(request, staff, referral_id, created.follow_up_code))
            if any(not document.sent for document in draft.documents):
                # Kept before the documents go: a retry sends what is left, to this referral.
                await drafts.sent(draft.id, referral_id)
        # The documents, each once (their own keys), then nothing of the person stays here.
        for position, document in enumerate(draft.documents):
            if document.sent:
                continue
            content = await drafts.document_content(draft.id, document.id)
            if content is not None:
                await referrals.attach(
                    referral_id,
                    content,
                    document.content_type,
                    document.filename,
                    f"{draft.idempotency_key}:{position}",
                )
            await drafts.document_sent(document.id)
        await drafts.finish(draft.id, referral_id)
        return see_other(f"/orientations/{referral_id}", cookies=cookies)

    @post("/{draft_id:uuid}/abandonner")
    async def discard(
        self, request: Request[Any, Any, Any], staff: Staff, form: Form, draft_id: uuid.UUID
    ) -> Response[Any]:
        draft, _ = await self._draft(request, staff, draft_id)
        if draft.referral_id is not None:
            return see_other(f"/orientations/{draft.referral_id}")
        await _drafts(request).discard(draft.id)
        return see_other("/orienter?abandon=1")


class Recepisse(Controller):
    include_in_schema = False

    @get("/orientations/{referral_id:uuid}/recepisse")
    async def receipt(
        self,
        request: Request[Any, Any, Any],
        staff: Staff,
        referrals: ReferralsApi,
        directory: DirectoryApi,
        referral_id: uuid.UUID,
    ) -> Response[Any]:
        """The consent receipt, printable, for the person: who sees what, for what, until when,
        how to withdraw. For the sending structure only (it holds the person's data)."""
        referral = await referrals.referral(referral_id)
        if referral.structure_id != staff.structure_id:
            raise Forbidden("Le récépissé est remis par la structure qui a orienté la personne.")
        named = {
            h.to_structure_id: h.to_structure_name
            for h in referral.handoffs
            if h.to_structure_id is not None
        }
        missing = [r for r in referral.consent.recipients if r not in named]
        names: StructureNames = request.app.state.structure_names
        (origin, _), others = await asyncio.gather(
            directory.structure(referral.structure_id), names.of(directory, missing)
        )
        named.update(others)
        first = referral.handoffs[0] if referral.handoffs else None
        person = referral.person
        person_name = ""
        if person is not None:
            person_name = " ".join(p for p in (person.first_name, person.last_name) if p) or (
                person.pseudonym or ""
            )
        settings: Settings = request.app.state.settings
        return render(
            request,
            "orienter/recepisse.html",
            title="Récépissé de consentement",
            referral=referral,
            origin=origin,
            # « au service « Aide aux démarches » de PIMMS Médiation » : a service's name alone
            # does not say who receives the request.
            target=_receiver(first.to_structure_name, first.to_service_name) if first else None,
            recipients=[named[r] for r in referral.consent.recipients if r in named],
            person_name=person_name,
            reference=reference(referral.id),
            retention_months=settings.referrals_retention_months,
            follow_up=follow_up_link(request, staff, referral),
        )


def _drafts(request: Request[Any, Any, Any]) -> Drafts:
    return request.app.state.drafts  # type: ignore[no-any-return]


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise ApiError.not_found() from None


def _content_type(content: bytes) -> str:
    for signature, kind in SIGNATURES.items():
        if content.startswith(signature):
            return kind
    return ""


async def _partner(directory: DirectoryApi, service_id: uuid.UUID) -> f.Partner:
    service, _ = await directory.service(service_id)
    structure, _ = await directory.structure(service.structure_id)
    return f.Partner(
        structure_id=structure.id,
        structure_name=structure.name,
        service_id=service.id,
        service_name=service.name,
    )


def _receiver(structure: str | None, service: str | None) -> str | None:
    if service and structure:
        return f"au service « {service} » de {structure}"
    if structure:
        return f"à {structure}"
    return f"au service « {service} »" if service else None


ROUTES = [Orienter, Recepisse]
