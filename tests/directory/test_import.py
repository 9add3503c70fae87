"""data·inclusion v1 import: mapping, row-by-row errors, idempotent upsert, API and CLI."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from services.cli import app as cli
from services.directory import importer
from services.directory import models as m
from services.directory.importer import import_datainclusion
from services.directory.importer.writing import Upsert
from services.directory.interop.datainclusion import export as di_export
from services.directory.interop.datainclusion import fields as di_fields
from services.directory.interop.datainclusion import parse as di_parse
from services.directory.interop.files import UnreadableInput, read_bytes, read_paths
from services.directory.search import tables as search_tables
from services.directory.search.indexing import refresh_structure_search_index
from tests.conftest import Relais
from tests.directory.helpers import member, moderator, writer_client

FIXTURES = Path(__file__).parent / "fixtures"
XLSX = FIXTURES / "data-inclusion-dataset.xlsx"


def structure_row(source: str, sid: str = "s1", **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "source": source,
        "id": sid,
        "nom": "Centre social Le Tournesol",
        "date_maj": "2025-02-14",
        "siret": "13003013300016",
        "telephone": "03 20 00 00 00",
        "courriel": "contact@tournesol.example.org",
        "site_web": "https://tournesol.example.org",
        "adresse": "1 rue de Paris",
        "code_postal": "59000",
        "code_insee": "59350",
        "latitude": 50.63,
        "longitude": 3.06,
        "reseaux_porteurs": ["ccas-cias"],
        "horaires_accueil": "Mo-Fr 09:00-12:00",
    }
    row.update(extra)
    return row


def service_row(
    source: str, sid: str = "v1", structure: str = "s1", **extra: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "source": source,
        "id": sid,
        "structure_id": structure,
        "nom": "Aide alimentaire",
        "description": "Colis alimentaires chaque semaine.",
        "date_maj": "2025-02-14",
        "type": "aide-materielle",
        "thematiques": ["equipement-et-alimentation--alimentation"],
        "publics": ["tous-publics"],
        "frais": "gratuit",
        "zone_eligibilite": ["59350", "200093201", "59", "france"],
        "modes_accueil": ["en-presentiel"],
        "modes_mobilisation": ["telephoner", "envoyer-un-courriel"],
        "mobilisable_par": ["professionnels", "usagers"],
        "telephone": "+33320000001",
        "courriel": "accueil@tournesol.example.org",
        "horaires_accueil": "Tu 14:00-17:00",
        "volume_horaire_hebdomadaire": 3,
        "nombre_semaines": 4,
    }
    row.update(extra)
    return row


def unique_source() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


# --------------------------------------------------------------------------- pure mapping


def test_service_mapping_covers_every_column_and_zone_kind() -> None:
    record = di_parse.parse_service(service_row("src"), 1)
    assert isinstance(record, di_fields.ServiceRecord)
    assert set(record.values) == set(di_fields.SERVICE_COLUMNS)
    assert record.zones == ["commune:59350", "departement:59", "epci:200093201", "france"]
    assert record.values["contact_phone"] == "+33320000001"
    assert record.values["referral_phone"] == "+33320000001"
    assert record.values["referral_email"] == "accueil@tournesol.example.org"
    assert record.values["commune"] is None
    structure = di_parse.parse_structure(structure_row("src"), 1)
    assert isinstance(structure, di_fields.StructureRecord)
    assert set(structure.values) == set(di_fields.STRUCTURE_COLUMNS)
    assert structure.values["phone"] == "+33320000000"
    assert structure.values["commune"] == "Lille"


def test_zone_codes() -> None:
    assert di_parse.zone_from_code("75056") == "commune:75056"
    assert di_parse.zone_from_code("2A") == "departement:2A"
    assert di_parse.zone_from_code("200093201") == "epci:200093201"
    assert di_parse.zone_from_code("france") == "france"
    assert di_parse.zone_from_code("99100") == "france"
    assert di_parse.zone_from_code("99134") is None
    assert di_parse.zone_from_code("00000") is None
    assert di_export.codes_from_zones(["region:11", "france"])[-1] == "france"
    assert "75" in di_export.codes_from_zones(["region:11"])


def test_bad_values_are_all_reported_with_their_field() -> None:
    row = service_row(
        "src",
        publics=["tous-publics", "jeunes"],
        zone_eligibilite=["99134", "nope-nope"],
        nombre_semaines="beaucoup",
        volume_horaire_hebdomadaire=-1,
        horaires_accueil="pas des horaires",
        telephone="123",
        lien_mobilisation="pas une url",
        thematiques=["numerique--acquerir-un-equipemen"],
        latitude=123,
        longitude=3,
        nom="ab",
        description=None,
    )
    errors = di_parse.parse_service(row, 7)
    assert isinstance(errors, list)
    fields = {e.field for e in errors}
    assert fields >= {
        "publics",
        "zone_eligibilite",
        "nombre_semaines",
        "volume_horaire_hebdomadaire",
        "horaires_accueil",
        "telephone",
        "lien_mobilisation",
        "thematiques",
        "latitude",
        "nom",
        "description",
    }
    assert all(e.row == 7 and e.source_id == "v1" and e.kind == "service" for e in errors)
    thematique = next(e for e in errors if e.field == "thematiques")
    assert "numerique--acquerir-un-equipement" in thematique.reason


def test_nul_characters_and_wrong_types_are_rejected() -> None:
    errors = di_parse.parse_structure(structure_row("src", nom="Centre\x00social", siret=True), 1)
    assert isinstance(errors, list)
    assert {e.field for e in errors} == {"nom", "siret"}


def test_readers_json_object_csv_and_errors() -> None:
    both = read_bytes(
        json.dumps({"structures": [structure_row("a")], "services": [service_row("a")]}).encode(),
        "x.json",
    )
    assert len(both.structures) == 1
    assert len(both.services) == 1
    services_only = read_bytes(json.dumps([service_row("a")]).encode(), "anything.json")
    assert len(services_only.services) == 1
    assert not services_only.structures
    csv_data = (
        "source;id;nom;date_maj;reseaux_porteurs\n"
        'z;1;Maison France Services;2025-01-01;"ccas-cias, france-service"\n'
    )
    parsed = read_bytes(csv_data.encode(), "structures.csv")
    assert parsed.structure_rows == [2]
    record = di_parse.parse_structure(parsed.structures[0], 2)
    assert isinstance(record, di_fields.StructureRecord)
    assert record.values["networks"] == ["ccas-cias", "france-service"]
    for bad, name in [(b"{nope", "x.json"), (b'{"foo": 1}', "x.json"), (b"PK\x03\x04zz", "x.xlsx")]:
        with pytest.raises(UnreadableInput):
            read_bytes(bad, name)


# --------------------------------------------------------------------------- database


async def _import(relais: Relais, structures: list[Any], services: list[Any], **kw: Any) -> Any:
    db = relais.app("directory").state.db
    async with db.session() as session:
        return await import_datainclusion(session, structures, services, **kw)


async def _scalar(relais: Relais, query: Any) -> Any:
    db = relais.app("directory").state.db
    async with db.session() as session:
        return await session.scalar(query)


async def test_spreadsheet_fixture_reports_every_deliberate_error(relais: Relais) -> None:
    dataset = read_paths([XLSX])
    source = unique_source()
    report = await _import(
        relais,
        dataset.structures,
        dataset.services,
        default_source=source,
        structure_rows=dataset.structure_rows,
        service_rows=dataset.service_rows,
    )
    found = {
        (e.kind, e.row, e.field, str(e.value) if e.value is not None else None)
        for e in report.errors
    }
    expected = {
        ("structure", 4, "nom", "AGENCE ACTION LOGEMENT."),
        ("structure", 4, "date_maj", None),
        ("structure", 4, "courriel", "pas une adresse"),
        ("structure", 4, "site_web", "pas une url !"),
        ("structure", 4, "code_postal", "750121"),
        ("service", 4, "thematiques", "logement-hebergement--louer-un-appartement"),
        ("service", 4, "date_maj", None),
        ("service", 5, "date_maj", None),
        ("service", 4, "mobilisable_par", "autres"),
        ("service", 5, "mobilisable_par", "autres"),
        ("service", 4, "nombre_semaines", "beaucoup"),
        ("service", 5, "nombre_semaines", "beaucoup"),
        ("service", 5, "code_insee", "59999"),
    }
    assert expected <= found
    assert report.structures.rejected == 1
    assert report.services.rejected == 2
    assert report.created == report.updated == report.unchanged == 0
    assert all(e.source_id for e in report.errors)
    count = await _scalar(
        relais,
        sa.select(sa.func.count()).select_from(m.Structure).where(m.Structure.source == source),
    )
    assert count == 0


async def test_import_is_idempotent_and_tracks_changes(relais: Relais) -> None:
    source = unique_source()
    structures = [structure_row(source)]
    services = [service_row(source), service_row(source, "v2", nom="Épicerie solidaire")]
    first = await _import(relais, structures, services, actor="test")
    assert (first.created, first.updated, first.unchanged, first.rejected) == (3, 0, 0, 0)

    service_id = await _scalar(
        relais,
        sa.select(m.Service.id).where(m.Service.source == source, m.Service.source_id == "v1"),
    )
    history_count = sa.select(sa.func.count()).select_from(m.HistoryEntry)
    outbox_count = sa.select(sa.func.count()).select_from(m.OutboxEvent)
    before = (await _scalar(relais, history_count), await _scalar(relais, outbox_count))

    again = await _import(relais, structures, services, actor="test")
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 3, 0)
    assert (await _scalar(relais, history_count), await _scalar(relais, outbox_count)) == before
    assert (
        await _scalar(relais, sa.select(m.Service.version).where(m.Service.id == service_id)) == 1
    )

    changed = [service_row(source, zone_eligibilite=["59"]), services[1]]
    third = await _import(relais, structures, changed, actor="test")
    assert (third.updated, third.unchanged) == (1, 2)
    assert (
        await _scalar(relais, sa.select(m.Service.version).where(m.Service.id == service_id)) == 2
    )
    zones = await _scalar(
        relais,
        sa.select(sa.func.count())
        .select_from(m.ServiceZone)
        .where(m.ServiceZone.service_id == service_id),
    )
    assert zones == 1
    entry = await _scalar(
        relais,
        sa.select(m.HistoryEntry)
        .where(m.HistoryEntry.entity_id == service_id)
        .order_by(m.HistoryEntry.id.desc())
        .limit(1),
    )
    assert entry.action == "import-update"
    assert "zones" in entry.changes
    topics = await _scalar(
        relais,
        sa.select(sa.func.count())
        .select_from(m.OutboxEvent)
        .where(
            m.OutboxEvent.aggregate_id == str(service_id), m.OutboxEvent.topic == "service.upserted"
        ),
    )
    assert topics == 2

    # Changed values land in the stored rows (structures and services), untouched ones stay.
    renamed = [structure_row(source, nom="Centre social Les Tournesols")]
    edited = [
        changed[0],
        {**services[1], "thematiques": ["logement-hebergement--louer-un-logement"]},
    ]
    fourth = await _import(relais, renamed, edited, actor="test")
    assert (fourth.created, fourth.updated, fourth.unchanged) == (0, 2, 1)
    stored = await _scalar(relais, sa.select(m.Structure).where(m.Structure.source == source))
    assert (stored.name, stored.version, stored.siret) == (
        "Centre social Les Tournesols",
        2,
        "13003013300016",
    )
    second = await _scalar(
        relais,
        sa.select(m.Service).where(m.Service.source == source, m.Service.source_id == "v2"),
    )
    assert second.thematiques == ["logement-hebergement--louer-un-logement"]
    assert (second.name, second.version, second.status) == ("Épicerie solidaire", 2, "published")


async def test_services_resolve_structures_and_reject_unknown_ones(relais: Relais) -> None:
    source = unique_source()
    await _import(relais, [structure_row(source)], [])
    report = await _import(
        relais,
        [structure_row(source, "bad", nom="Nom.")],
        [
            service_row(source, "attached"),  # structure from an earlier import
            service_row(source, "orphan", structure="nowhere"),
            service_row(source, "of-bad", structure="bad"),
            service_row(source, "attached", nom="Doublon"),
        ],
    )
    assert report.services.created == 1
    reasons = {(e.source_id, e.field): e.reason for e in report.errors if e.kind == "service"}
    assert "inconnue" in reasons[("orphan", "structure_id")]
    assert "rejetée" in reasons[("of-bad", "structure_id")]
    assert "double" in reasons[("attached", "id")]


async def _indexed(
    relais: Relais, source: str, *, whole: bool = False
) -> dict[tuple[str, str], dict[str, Any]]:
    """Search documents of one source's entries by (kind, source id), without ids and dates
    (unless ``whole``)."""
    docs = search_tables.documents
    skipped = {"doc_id"} if whole else {"doc_id", "entity_id", "structure_id"}
    skipped |= set() if whole else {"updated_at", "verified_at"}
    columns = [c for c in docs.columns if c.name not in skipped and not c.computed]
    found: dict[tuple[str, str], dict[str, Any]] = {}
    db = relais.app("directory").state.db
    async with db.session() as session:
        for kind, model in (("service", m.Service), ("structure", m.Structure)):
            rows = await session.execute(
                sa.select(model.source_id, *columns)
                .join(docs, sa.and_(docs.c.kind == kind, docs.c.entity_id == model.id))
                .where(model.source == source)
            )
            for row in rows.mappings():
                found[(kind, row["source_id"])] = {c.name: row[c.name] for c in columns}
    return found


async def test_an_import_in_chunks_writes_and_indexes_as_in_one(
    relais: Relais, monkeypatch: pytest.MonkeyPatch
) -> None:
    def dataset(source: str, renamed: bool = False) -> tuple[list[Any], list[Any]]:
        name = "Centre social Les Tournesols" if renamed else "Centre social Le Tournesol"
        structures = [
            structure_row(source, nom=name),
            structure_row(source, "s2", nom="Maison France services"),
        ]
        services = [
            service_row(source, f"v{i}", structure="s1" if i % 2 else "s2", nom=f"Service {i}")
            for i in range(7)
        ]
        services.insert(5, service_row(source, "v1", nom="Doublon"))  # a later chunk
        services.append(service_row(source, "bad", frais="cher"))
        return structures, services

    async def outcome(source: str, chunk: int, renamed: bool = False) -> Any:
        monkeypatch.setattr(importer, "IMPORT_CHUNK", chunk)
        report = await _import(relais, *dataset(source, renamed))
        errors = sorted((e.kind, e.row, e.field, e.reason) for e in report.errors)
        counts = (report.created, report.updated, report.unchanged, report.rejected)
        return counts, errors, await _indexed(relais, source)

    chunked, whole = unique_source(), unique_source()
    first = await outcome(chunked, 2)
    assert first == await outcome(whole, 1000)
    counts, errors, documents = first
    assert counts == (9, 0, 0, 2)
    assert ("service", 6, "id") in {error[:3] for error in errors}
    assert len(documents) == 7 + 2

    # A renamed structure re-indexes its services that the file leaves unchanged.
    renamed = await outcome(chunked, 2, renamed=True)
    assert renamed == await outcome(whole, 1000, renamed=True)
    counts, _, documents = renamed
    assert counts == (0, 1, 8, 2)
    assert " tournesol " in documents[("service", "v3")]["topic_terms"]
    assert "Tournesols" in documents[("service", "v3")]["topic_text"]


async def test_a_failing_import_raises_its_own_error_and_drops_its_background_work(
    relais: Relais, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = unique_source()
    monkeypatch.setattr(importer, "IMPORT_CHUNK", 1)

    async def broken(*_args: Any) -> Any:
        raise RuntimeError("base injoignable")

    for method in ("upsert_structures", "import_services"):
        with monkeypatch.context() as patch:
            patch.setattr(Upsert, method, broken)
            with pytest.raises(RuntimeError, match="base injoignable"):
                await _import(
                    relais,
                    [structure_row(source)],
                    [service_row(source, f"v{i}") for i in range(3)],
                )
    count = await _scalar(
        relais, sa.select(sa.func.count()).select_from(m.Service).where(m.Service.source == source)
    )
    assert count == 0


async def test_imported_documents_are_those_the_database_rows_give(relais: Relais) -> None:
    """An import makes new services' documents from the rows it writes (not read back): they
    equal the documents a re-index builds from the database."""
    source = unique_source()
    structures = [
        structure_row(source),
        structure_row(source, "s2", nom="Maison France services", latitude=None, longitude=None),
    ]
    services = [
        service_row(source),
        service_row(
            source,
            "v2",
            structure="s2",
            zone_eligibilite=["59", "59350"],
            modes_accueil=["a-distance", "en-presentiel"],
            latitude=50.6,
            longitude=3.1,
        ),
        service_row(source, "v3", publics=None, frais=None, type=None, modes_accueil=None),
    ]
    report = await _import(relais, structures, services)
    assert report.rejected == 0
    imported = await _indexed(relais, source, whole=True)
    assert len(imported) == 5
    db = relais.app("directory").state.db
    async with db.session() as session:
        ids = await session.scalars(sa.select(m.Structure.id).where(m.Structure.source == source))
        await refresh_structure_search_index(session, list(ids))
    assert await _indexed(relais, source, whole=True) == imported


# --------------------------------------------------------------------------- HTTP API


async def test_api_import_as_moderator_then_scoped_client(relais: Relais) -> None:
    client = relais.client
    source = unique_source()
    body = {
        "source": source,
        "structures": [structure_row(source)],
        "services": [service_row(source)],
    }
    for s in body["structures"] + body["services"]:
        del s["source"]  # taken from the default source
    response = await client.post(
        "/directory/v1/imports", json=body, headers=moderator(relais.tokens)
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["created"] == 2
    assert report["rejected"] == 0
    assert report["errors"] == []

    structure_id = await _scalar(
        relais, sa.select(m.Structure.id).where(m.Structure.source == source)
    )
    other = unique_source()
    scoped = {
        "structures": [structure_row(other, "x")],
        "services": [service_row(source, "v9"), service_row(other, "y", structure="x")],
    }
    response = await client.post(
        "/directory/v1/imports",
        json=scoped,
        headers=writer_client(relais.tokens, str(structure_id)),
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["services"]["created"] == 1
    assert report["structures"]["rejected"] == 1
    rejected = {(e["kind"], e["source_id"]) for e in report["errors"]}
    assert ("structure", "x") in rejected
    assert ("service", "y") in rejected
    assert (
        await _scalar(relais, sa.select(m.Structure.id).where(m.Structure.source == other)) is None
    )


async def test_api_import_refuses_and_rejects_bad_bodies(relais: Relais) -> None:
    client = relais.client
    url = "/directory/v1/imports"
    assert (await client.post(url, json={})).status_code == 401
    forbidden = await client.post(url, json={}, headers=member(relais.tokens, str(uuid.uuid4())))
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"].startswith("application/problem+json")
    headers = {**moderator(relais.tokens), "content-type": "application/json"}
    malformed = await client.post(url, content=b"{not json", headers=headers)
    assert malformed.status_code == 400
    assert malformed.headers["content-type"].startswith("application/problem+json")
    unknown = await client.post(url, json={"rows": []}, headers=moderator(relais.tokens))
    assert unknown.status_code in (400, 422)
    wrong = await client.post(url, json={"structures": "nope"}, headers=moderator(relais.tokens))
    assert wrong.status_code in (400, 422)
    rows = await client.post(
        url, json={"structures": [1, None], "services": [[]]}, headers=moderator(relais.tokens)
    )
    assert rows.status_code in (200, 400, 422)
    if rows.status_code == 200:
        assert rows.json()["rejected"] == 3


async def test_api_dry_run_writes_nothing(relais: Relais) -> None:
    source = unique_source()
    body = {"structures": [structure_row(source)], "services": []}
    response = await relais.client.post(
        "/directory/v1/imports?dry_run=true", json=body, headers=moderator(relais.tokens)
    )
    assert response.status_code == 200
    assert response.json()["created"] == 1
    assert (
        await _scalar(relais, sa.select(m.Structure.id).where(m.Structure.source == source)) is None
    )


# --------------------------------------------------------------------------- CLI


def test_cli_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    runner = CliRunner()
    good = tmp_path / "good.json"
    good.write_text(
        json.dumps({"structures": [structure_row("cli")], "services": [service_row("cli")]})
    )
    result = runner.invoke(cli, ["import", "data-inclusion", str(good)])
    assert result.exit_code == 0, result.output
    assert "1 créées" in result.output
    result = runner.invoke(cli, ["import", "data-inclusion", str(good)])
    assert result.exit_code == 0
    assert "1 inchangés" in result.output

    result = runner.invoke(cli, ["import", "data-inclusion", str(XLSX), "--source", "fixture"])
    assert result.exit_code == 1
    assert "nombre_semaines" in result.output
    assert "ligne 5" in result.output

    broken = tmp_path / "broken.json"
    broken.write_text("{oops")
    assert runner.invoke(cli, ["import", "data-inclusion", str(broken)]).exit_code == 2
    assert runner.invoke(cli, ["import", "data-inclusion", str(tmp_path / "none")]).exit_code == 2

    out = tmp_path / "services.csv"
    result = runner.invoke(
        cli, ["export", "--format", "datainclusion-csv", "--kind", "services", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0].startswith("source,structure_id,id,nom")
    assert any(",Aide alimentaire," in line for line in lines[1:])
