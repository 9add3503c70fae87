"""Password rules (ANSSI / NIST SP 800-63B): length over complexity, no trivial passwords.

Pure functions: the caller hashes accepted passwords with argon2id.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path

MIN_LENGTH = 12
MAX_LENGTH = 128
_COMMON_FILE = Path(__file__).with_name("common_passwords.txt")
_SEQUENCES = (
    "abcdefghijklmnopqrstuvwxyz",
    "0123456789",
    "azertyuiopqsdfghjklmwxcvbn",
    "qwertyuiopasdfghjklzxcvbnm",
)


@cache
def common_passwords() -> frozenset[str]:
    lines = _COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(_fold(line) for line in lines if line.strip() and not line.startswith("#"))


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _is_sequence(folded: str) -> bool:
    if len(set(folded)) <= 2:
        return True
    for seq in _SEQUENCES:
        for source in (seq, seq[::-1]):
            if folded in source * 3:
                return True
    return False


def password_problems(password: str, *, email: str = "", name: str = "") -> list[str]:
    """Reasons (French) why a password is refused; empty when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return [f"au moins {MIN_LENGTH} caractères (une phrase de passe convient très bien)"]
    if len(password) > MAX_LENGTH:
        return [f"au plus {MAX_LENGTH} caractères"]
    folded = _fold(password)
    squeezed = "".join(c for c in folded if c.isalnum())
    problems: list[str] = []
    if (
        folded in common_passwords()
        or squeezed in common_passwords()
        or _strip_digits(squeezed) in common_passwords()
        or _is_sequence(squeezed or folded)
    ):
        problems.append("mot de passe trop courant ou trop prévisible")
    personal = [_fold(email.split("@")[0]), *(_fold(p) for p in name.split())]
    if any(len(p) >= 4 and p in folded for p in personal):
        problems.append("ne doit pas contenir votre nom ou votre adresse e-mail")
    return problems


def _strip_digits(text: str) -> str:
    return text.rstrip("0123456789!")
