"""The fast paths of the domain validators give exactly what the general path gives."""

from __future__ import annotations

import random

import pytest

from services.directory.domain import phones, validation


def _normalized(value: str) -> str | None:
    try:
        return validation.normalize_phone(value)
    except validation.Invalid:
        return None


def _samples() -> list[str]:
    rng = random.Random(7)
    values = [
        "02 99 00 00 00",
        "0262 21 00 00",
        "02 62 21 00 00",
        "06 12 34 56 78",
        "07 00 00 00 00",
        "08 36 00 00 00",
        "08 99 12 34 56",
        "09 87 65 43 21",
        "01.23.45.67.89",
        "01-23-45-67-89",
        "0123456789",
        "02 99.12 34 56",
        "00 12 34 56 78",
        "0590 12 34 56",
        "0696 12 34 56",
    ]
    for _ in range(3000):
        digits = f"0{rng.randint(1, 9)}{rng.randrange(10**8):08d}"
        separator = rng.choice(["", " ", ".", "-"])
        values.append(separator.join(digits[i : i + 2] for i in range(0, 10, 2)))
    return values


@pytest.mark.parametrize("chunk", range(3))
def test_phone_fast_path_matches_phonenumbers(chunk: int) -> None:
    values = _samples()[chunk::3]
    assert [_normalized(v) for v in values] == [phones._any_region(v) for v in values]
