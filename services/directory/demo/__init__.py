"""Demo territory: the Drôme (26), generated deterministically (see README.md in this folder).

``generate_territory(seed=26)`` gives ``(structures, services)`` as data·inclusion v1 rows;
``build_territory`` also gives the Relais-only facts (documents, capacity, drafts, verification).
"""

from services.directory.demo.generator import (
    DEFAULT_SEED,
    SOURCE,
    Territory,
    build_territory,
    generate_territory,
)

__all__ = ["DEFAULT_SEED", "SOURCE", "Territory", "build_territory", "generate_territory"]
