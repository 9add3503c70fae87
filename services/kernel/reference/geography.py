"""French administrative geography (COG): commune → EPCI → département → région.

Eligibility zones are strings: ``commune:<insee>``, ``epci:<siren>``, ``departement:<code>``,
``region:<code>`` or ``france``; ``zones_of(commune)`` gives every zone that covers a commune, so
"does this zone cover the person's commune" is a set intersection (and an indexed SQL lookup).

Each commune has a reference position (``position(code)``: WGS84, as the crow flies from the
commune's reference point, good for ranking nearby places, not for routing), except 103 codes
(overseas collectivities, communes created after the source's 2024 data): those have none, and
callers say so rather than guess.
"""

from __future__ import annotations

import csv
import gzip
import io
import unicodedata
from functools import cache, cached_property
from pathlib import Path

import msgspec

DATA = Path(__file__).parent / "data" / "cog"
ZONE_KINDS = ("commune", "epci", "departement", "region", "france")
_ABBREVIATIONS = {"st": "saint", "ste": "sainte"}


class Commune(msgspec.Struct, frozen=True):
    code: str
    name: str
    type: str
    postal_codes: tuple[str, ...]
    departement: str
    region: str
    epci: str | None
    population: int | None
    parent: str | None


class Area(msgspec.Struct, frozen=True):
    code: str
    name: str


class Point(msgspec.Struct, frozen=True):
    """A commune's reference position (WGS84 degrees)."""

    latitude: float
    longitude: float


def fold(text: str) -> str:
    """Lower-case, accent-free, hyphens and apostrophes as spaces: for name matching."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    for sep in ("-", "'", "’"):
        stripped = stripped.replace(sep, " ")
    return " ".join(stripped.split())


class Geography:
    def __init__(self) -> None:
        self.communes: dict[str, Commune] = {}
        self.by_postal_code: dict[str, list[Commune]] = {}
        # Held by every server process that filters by place: the csv module makes a new string
        # for each field of each row, so the values repeated across 37,000 rows (types,
        # départements, régions, EPCIs, postal codes, parent codes) are shared through one pool.
        shared: dict[str, str] = {}

        def one(text: str) -> str:
            return shared.setdefault(text, text)

        with (DATA / "communes.csv").open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                commune = Commune(
                    code=one(row["code_insee"]),
                    name=row["nom"],
                    type=one(row["type"]),
                    postal_codes=tuple(one(p) for p in row["codes_postaux"].split()),
                    departement=one(row["departement"]),
                    region=one(row["region"]),
                    epci=one(row["epci"]) if row["epci"] else None,
                    population=int(row["population"]) if row["population"] else None,
                    parent=one(row["commune_parente"]) if row["commune_parente"] else None,
                )
                # A delegated commune may share its code with the current one: keep the current.
                if commune.code not in self.communes or commune.type == "commune-actuelle":
                    self.communes[commune.code] = commune
                if commune.type == "commune-actuelle":
                    for postal in commune.postal_codes:
                        self.by_postal_code.setdefault(postal, []).append(commune)
        self.epcis = _areas("epci.csv", "code_siren")
        self.departements = _areas("departements.csv", "code")
        self.regions = _areas("regions.csv", "code")

    @cached_property
    def _folded(self) -> list[tuple[str, Commune]]:
        # Built on the first search by name only (3 MB): a search by place never needs it.
        return [(fold(c.name), c) for c in self.communes.values() if c.type == "commune-actuelle"]

    def commune(self, code: str) -> Commune | None:
        return self.communes.get(code)

    @cached_property
    def _positions(self) -> dict[str, Point]:
        # Read on first use only: most commands never need positions.
        raw = gzip.decompress((DATA / "positions.csv.gz").read_bytes()).decode("utf-8")
        # Keyed by the communes' own code strings (one copy of each code in the process).
        codes = {code: code for code in self.communes}
        return {
            codes.get(code, code): Point(float(row["latitude"]), float(row["longitude"]))
            for row in csv.DictReader(io.StringIO(raw))
            if row["latitude"] and row["longitude"] and (code := row["code_insee"])
        }

    def position(self, code: str | None) -> Point | None:
        """The commune's reference position; None for an unknown code or a commune without one
        (created after the source's data)."""
        return self._positions.get(code) if code else None

    def resolve(self, code_or_postal: str) -> list[Commune]:
        """An INSEE code gives one commune; a postal code may give several."""
        commune = self.communes.get(code_or_postal)
        if commune is not None:
            return [commune]
        return list(self.by_postal_code.get(code_or_postal, []))

    def current(self, commune: Commune) -> Commune:
        """The current commune a delegated/associated one or an arrondissement belongs to."""
        if commune.type != "commune-actuelle" and commune.parent in self.communes:
            return self.communes[commune.parent]
        return commune

    def zones_of(self, code: str) -> set[str]:
        """Every eligibility zone that covers this commune (empty when the code is unknown)."""
        commune = self.communes.get(code)
        if commune is None:
            return set()
        zones = {f"commune:{commune.code}", "france"}
        for c in {commune, self.current(commune)}:
            zones.add(f"commune:{c.code}")
            if c.epci:
                zones.add(f"epci:{c.epci}")
            zones.add(f"departement:{c.departement}")
            zones.add(f"region:{c.region}")
        return zones

    def valid_zone(self, zone: str) -> bool:
        if zone == "france":
            return True
        kind, _, code = zone.partition(":")
        tables: dict[str, dict[str, Commune] | dict[str, Area]] = {
            "commune": self.communes,
            "epci": self.epcis,
            "departement": self.departements,
            "region": self.regions,
        }
        table = tables.get(kind)
        return table is not None and code in table

    def zone_label(self, zone: str) -> str | None:
        if zone == "france":
            return "France entière"
        kind, _, code = zone.partition(":")
        if kind == "commune" and code in self.communes:
            return self.communes[code].name
        area = {"epci": self.epcis, "departement": self.departements, "region": self.regions}.get(
            kind, {}
        ).get(code)
        return area.name if area else None

    def search(self, query: str, limit: int = 20) -> list[Commune]:
        """Communes by name prefix (accent- and case-insensitive) or postal code, largest first."""
        q = " ".join(_ABBREVIATIONS.get(word, word) for word in fold(query).split())
        if not q:
            return []
        if q.isdigit():
            found = [c for p, cs in self.by_postal_code.items() if p.startswith(q) for c in cs]
        else:
            found = [c for name, c in self._folded if name.startswith(q) or f" {q}" in f" {name}"]
            found.sort(key=lambda c: (not fold(c.name).startswith(q), -(c.population or 0), c.code))
            return found[:limit]
        unique = {c.code: c for c in found}
        return sorted(unique.values(), key=lambda c: (-(c.population or 0), c.code))[:limit]


def _areas(file_name: str, code_column: str) -> dict[str, Area]:
    with (DATA / file_name).open(encoding="utf-8") as fh:
        return {
            row[code_column]: Area(code=row[code_column], name=row["nom"])
            for row in csv.DictReader(fh)
        }


@cache
def geography() -> Geography:
    return Geography()
