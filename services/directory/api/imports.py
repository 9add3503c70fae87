"""``POST /directory/v1/imports``: data·inclusion v1 rows in, an import report out.

Same semantics as ``relais import data-inclusion``: every row is validated; valid rows are
upserted by (source, id) and committed, invalid rows are reported (row, source id, field,
value, reason) and never half-applied; re-sending the same rows changes nothing.

Who may import:
- network moderators: any rows;
- a structure's admins, and API clients with ``directory:write`` bound to a structure: only that
  structure (which must already exist in the directory with this source and id) and its
  services; rows about other structures are rejected in the report, not written.
Anyone else gets 403. Bodies are limited like every request (``RELAIS_MAX_BODY_BYTES``); use the
CLI for whole-territory files.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, post
from litestar.params import Parameter
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.directory.importer import ImportReport, import_datainclusion
from services.kernel.access import CLIENT_SCOPES, ClientScopes
from services.kernel.identity import Caller, Scope
from services.kernel.problems import ProblemError

MAX_ROWS = 50_000


class ImportRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """data·inclusion v1 rows, as the schema names their fields."""

    structures: Annotated[list[dict[str, Any]], msgspec.Meta(max_length=MAX_ROWS)] = msgspec.field(
        default_factory=list
    )
    services: Annotated[list[dict[str, Any]], msgspec.Meta(max_length=MAX_ROWS)] = msgspec.field(
        default_factory=list
    )
    source: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None


class ImportController(Controller):
    path = "/directory/v1/imports"
    opt = {CLIENT_SCOPES: ClientScopes(write=Scope.DIRECTORY_WRITE)}  # noqa: RUF012
    tags = ["imports"]  # noqa: RUF012

    @post(
        operation_id="ImportDataInclusion",
        summary="Importer des lignes data·inclusion v1",
        status_code=200,
    )
    async def import_rows(
        self,
        session: AsyncSession,
        authenticated: Caller,
        data: ImportRequest,
        dry_run: Annotated[
            bool, Parameter(description="valider et compter sans rien enregistrer")
        ] = False,
    ) -> ImportReport:
        """Upsert par (source, id) ; rapport ligne à ligne ; 200 même si des lignes sont
        rejetées (voir `rejected` et `errors`)."""
        scope = None
        if not authenticated.is_moderator:
            own = authenticated.structure_id
            if own is None or not authenticated.may(Scope.DIRECTORY_WRITE, own, admin=True):
                raise ProblemError(
                    403,
                    "Import réservé à la modération, aux administrateurs d'une structure "
                    "et aux clients `directory:write` liés à une structure.",
                )
            scope = own
        try:
            report = await import_datainclusion(
                session,
                data.structures,
                data.services,
                actor=authenticated.subject,
                actor_structure_id=authenticated.structure_id,
                default_source=data.source,
                allowed_structure_id=scope,
            )
            if dry_run:
                await session.rollback()
            else:
                await session.flush()
        except IntegrityError:
            await session.rollback()
            raise ProblemError(
                409, "Un import concurrent a modifié les mêmes entrées ; réessayez."
            ) from None
        return report
