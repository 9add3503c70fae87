"""French text analysis shared by every search backend.

One analyser for documents and queries: fold (case, accents, ligatures), split into words, drop
French stop words, stem with Snowball French. Documents are indexed as strings of terms
(``" word stem word stem "``) so "does this field hold this term" is a plain substring test that
both SQLite and PostgreSQL evaluate identically. Queries become clauses (one per word or synonym
expression), each a choice of alternatives (the word, its synonyms, typo corrections, a prefix).
"""

from __future__ import annotations

import html
import re
import threading
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import snowballstemmer  # type: ignore[import-untyped]

HERE = Path(__file__).parent
MAX_QUERY_CHARS = 200
MAX_CLAUSES = 8
MAX_WORD_CHARS = 40
_WORD = re.compile(r"[a-z0-9]+")
_RAW_WORD = re.compile(r"\w+", re.UNICODE)
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "’": "'"})
# A Snowball stemmer keeps its state in the object: one per thread (the importer builds search
# documents in worker threads while the event loop's thread stems too).
_LOCAL = threading.local()
_STEMS: dict[str, str] = {}


def _stemmer() -> Any:
    stemmer = getattr(_LOCAL, "stemmer", None)
    if stemmer is None:
        stemmer = _LOCAL.stemmer = snowballstemmer.stemmer("french")
    return stemmer


@cache
def _combining() -> re.Pattern[str]:
    """Every combining character (``unicodedata.combining(c) != 0``), as one character class."""
    chars = [chr(i) for i in range(0x300, 0x110000) if unicodedata.combining(chr(i))]
    return re.compile("[" + "".join(re.escape(c) for c in chars) + "]+")


def fold(text: str) -> str:
    """Lower-case, accent-free ASCII-ish text (é→e, œ→oe); other characters kept."""
    lowered = text.casefold().translate(_LIGATURES)
    if lowered.isascii():
        return lowered
    return _combining().sub("", unicodedata.normalize("NFKD", lowered))


def words(text: str) -> list[str]:
    """Folded words, stop words included (``[a-z0-9]+``, over-long words cut)."""
    return [w[:MAX_WORD_CHARS] for w in _WORD.findall(fold(text))]


@cache
def stopwords() -> frozenset[str]:
    lines = (HERE / "stopwords-fr.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(fold(line.strip()) for line in lines if line.strip() and line[0] != "#")


def content_words(text: str) -> list[str]:
    """Words that carry meaning: no stop words, no lone letters (digits are kept)."""
    stop = stopwords()
    return [w for w in words(text) if w not in stop and (len(w) > 1 or w.isdigit())]


def stem(word: str) -> str:
    """Snowball French stem of a folded word (memoised: the vocabulary is small)."""
    found = _STEMS.get(word)
    if found is None:
        found = word if word.isdigit() else (_stemmer().stemWord(word) or word)
        if len(_STEMS) < 500_000:
            _STEMS[word] = found
    return found


def term_list(*texts: str | None) -> list[str]:
    """Distinct terms of some texts: each word and, when it differs, its stem."""
    seen: dict[str, None] = {}
    for text in texts:
        if not text:
            continue
        for word in content_words(text):
            seen.setdefault(word, None)
            seen.setdefault(stem(word), None)
    return list(seen)


# Words never span these separators, so a text's terms are its parts' terms, in order.
_PARTS = re.compile(r" ; |\. ")


@lru_cache(maxsize=200_000)
def _part_terms(part: str) -> tuple[str, ...]:
    return tuple(term_list(part))


def index_terms(*texts: str | None) -> str:
    """The indexed form of a field: ``" term term … "`` (leading and trailing space).

    Computed part by part (" ; " and ". " separated), each part's terms remembered: labels,
    structure and commune names and boilerplate sentences repeat across a catalogue."""
    terms: dict[str, None] = {}
    for text in texts:
        if text:
            for part in _PARTS.split(text):
                terms.update(dict.fromkeys(_part_terms(part)))
    return f" {' '.join(terms)} " if terms else " "


# --- synonyms -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Synonyms:
    """Expressions (tuples of stems) → the expressions a query for them also finds."""

    table: dict[tuple[str, ...], tuple[tuple[tuple[str, ...], bool], ...]]
    longest: int
    groups: tuple[tuple[str, ...], ...]  # readable equivalence groups (for Meilisearch)
    oneway: tuple[tuple[str, tuple[str, ...]], ...]


def expression(text: str) -> tuple[str, ...]:
    return tuple(content_words(text))


@cache
def synonyms() -> Synonyms:
    data = tomllib.loads((HERE / "synonyms.toml").read_text(encoding="utf-8"))
    table: dict[tuple[str, ...], dict[tuple[str, ...], bool]] = {}

    def add(source: tuple[str, ...], target: tuple[str, ...], exact: bool) -> None:
        key = tuple(stem(w) for w in source)
        if not key or not target:
            return
        entry = table.setdefault(key, {})
        entry[target] = entry.get(target, False) or exact

    groups: list[tuple[str, ...]] = []
    for group in data.get("equivalent", []):
        exprs = [expression(t) for t in group["terms"]]
        groups.append(tuple(group["terms"]))
        for source in exprs:
            for target in exprs:
                add(source, target, True)
    oneway: list[tuple[str, tuple[str, ...]]] = []
    for rule in data.get("oneway", []):
        source = expression(rule["from"])
        add(source, source, True)
        oneway.append((rule["from"], tuple(rule["to"])))
        for target in rule["to"]:
            add(source, expression(target), False)
    frozen = {k: tuple(v.items()) for k, v in table.items()}
    return Synonyms(
        table=frozen,
        longest=max((len(k) for k in frozen), default=1),
        groups=tuple(groups),
        oneway=tuple(oneway),
    )


# --- queries --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alternative:
    """One way a clause may match: every word present (compared by stem), or a word prefix."""

    words: tuple[str, ...]
    exact: bool = True
    prefix: bool = False

    @property
    def terms(self) -> tuple[str, ...]:
        """What to look for in analysed fields: stems, or the prefix itself."""
        return self.words if self.prefix else tuple(stem(w) for w in self.words)


@dataclass(frozen=True)
class Clause:
    """One meaningful part of the query; a document matches it through any alternative."""

    words: tuple[str, ...]
    alternatives: tuple[Alternative, ...]

    @property
    def single_word(self) -> str | None:
        return self.words[0] if len(self.words) == 1 else None

    @property
    def has_exact(self) -> bool:
        """Some alternative is the query's own word (not a typo correction or a synonym)."""
        return any(a.exact for a in self.alternatives)


@dataclass(frozen=True)
class ParsedQuery:
    text: str
    clauses: tuple[Clause, ...] = ()
    words: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not self.clauses

    def with_typos(self, corrections: Mapping[str, Sequence[str]]) -> ParsedQuery:
        """Add typo corrections (word → known words) as inexact alternatives."""
        clauses = []
        for clause in self.clauses:
            word = clause.single_word
            extra = [
                Alternative((c,), exact=False)
                for c in corrections.get(word or "", ())
                if word is not None
            ]
            known = {(a.terms, a.prefix) for a in clause.alternatives}
            extra = [a for a in extra if (a.terms, a.prefix) not in known]
            alternatives = clause.alternatives
            if extra:
                # The unknown word's own stem is no better a guess than the corrections.
                alternatives = tuple(
                    replace(a, exact=False) if a.words == clause.words else a for a in alternatives
                )
            clauses.append(replace(clause, alternatives=alternatives + tuple(extra)))
        return replace(self, clauses=tuple(clauses))

    def highlight_terms(self) -> tuple[frozenset[str], tuple[str, ...]]:
        """Stems to highlight, and prefixes (as-you-type)."""
        stems: set[str] = set()
        prefixes: list[str] = []
        for clause in self.clauses:
            for alt in clause.alternatives:
                if alt.prefix:
                    prefixes.extend(alt.terms)
                else:
                    stems.update(alt.terms)
        return frozenset(stems), tuple(prefixes)


def parse_query(text: str) -> ParsedQuery:
    """Clauses of a free-text query. Syntax characters are plain text: nothing is an operator."""
    all_words = content_words(text)[: MAX_CLAUSES * 2]
    typing = bool(text) and not text[-1].isspace() and bool(all_words)
    syn = synonyms()
    clauses: list[Clause] = []
    i = 0
    while i < len(all_words) and len(clauses) < MAX_CLAUSES:
        matched = False
        for n in range(min(syn.longest, len(all_words) - i), 0, -1):
            window = tuple(all_words[i : i + n])
            targets = syn.table.get(tuple(stem(w) for w in window))
            if targets is None:
                continue
            alternatives = [Alternative(window)]
            for target, exact in targets:
                alt = Alternative(target, exact=exact)
                if alt.terms not in {a.terms for a in alternatives}:
                    alternatives.append(alt)
            clauses.append(Clause(window, tuple(alternatives)))
            i += n
            matched = True
            break
        if not matched:
            word = all_words[i]
            clauses.append(Clause((word,), (Alternative((word,)),)))
            i += 1
    if typing and clauses and i == len(all_words) and clauses[-1].single_word:
        last = clauses[-1]
        word = last.words[-1]
        if len(word) >= 2 and not word.isdigit():
            prefix = Alternative((word,), exact=False, prefix=True)
            clauses[-1] = replace(last, alternatives=(*last.alternatives, prefix))
    return ParsedQuery(text=text, clauses=tuple(clauses), words=tuple(all_words))


# --- typos ----------------------------------------------------------------------------------


def allowed_typos(word: str) -> int:
    """One typo for words of 4 to 8 letters, two beyond; none for short words and numbers."""
    if word.isdigit() or len(word) < 4:
        return 0
    return 1 if len(word) <= 8 else 2


def edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, stopping early past ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def typo_candidates(word: str, candidates: Iterable[str], limit: int = 5) -> list[str]:
    """Known words within the allowed number of typos of ``word``, closest first."""
    budget = allowed_typos(word)
    if budget == 0:
        return []
    scored = []
    for candidate in set(candidates):
        if candidate == word or candidate.isdigit():
            continue
        distance = edit_distance(word, candidate, budget)
        if distance <= budget:
            scored.append((distance, abs(len(candidate) - len(word)), candidate))
    scored.sort()
    return [c for _, _, c in scored[:limit]]


def trigrams(word: str) -> list[str]:
    padded = f"  {word} "
    return sorted({padded[i : i + 3] for i in range(len(padded) - 2)})


# --- highlighting ---------------------------------------------------------------------------


@lru_cache(maxsize=100_000)
def _word_forms(word: str) -> tuple[str, str]:
    """A raw word's folded form and the stem of it (remembered: highlighting runs per hit)."""
    folded = fold(word)
    return folded, stem(folded) if folded else ""


def highlight(
    text: str | None, stems: frozenset[str], prefixes: Sequence[str], *, snippet: int = 0
) -> tuple[str | None, bool]:
    """HTML-escaped text with matched words in ``<mark>``; a window around the first match when
    ``snippet`` (characters) is set. Returns (text, whether anything matched)."""
    if not text:
        return text, False
    spans = []
    starts = tuple(prefixes)
    for match in _RAW_WORD.finditer(text):
        folded, stemmed = _word_forms(match.group())
        if folded and (stemmed in stems or (starts and folded.startswith(starts))):
            spans.append(match.span())
    start, end = 0, len(text)
    if snippet and len(text) > snippet:
        first = spans[0][0] if spans else 0
        start = max(0, first - snippet // 4)
        # Start on a word boundary.
        if start > 0:
            space = text.find(" ", start)
            start = space + 1 if 0 <= space < first else start
        end = min(len(text), start + snippet)
    out: list[str] = ["…" if start > 0 else ""]
    cursor = start
    for s, e in spans:
        if s < start or e > end:
            continue
        out.append(html.escape(text[cursor:s]))
        out.append(f"<mark>{html.escape(text[s:e])}</mark>")
        cursor = e
    out.append(html.escape(text[cursor:end]))
    if end < len(text):
        out.append("…")
    return "".join(out), bool(spans)
