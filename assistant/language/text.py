"""Text normalisation shared by the keyword index and query understanding.

Compound words are the catalog's own (`Compounds.derive`, run at index build and kept in the
manifest): a catalog that writes "Tshirts" and "t-shirt" gets one token for both, another catalog
is not bent by that catalog's spellings. Text outside any catalog folds with `NO_COMPOUNDS`.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Iterable

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
STOPWORDS = frozenset("a an and the for of in on with to me i im i'm show find want need looking "
                      "some any please my like that this is are it its".split())


class Compounds:
    """Two-part words one catalog spells several ways, each folded to one token: ("t", "shirt")
    turns "t-shirt", "t shirt", "tshirts" into "tshirt"."""

    def __init__(self, pairs: Iterable[Iterable[str]] = ()) -> None:
        self.pairs = tuple(sorted({(str(a), str(b)) for a, b in pairs}))
        self._rules = [(re.compile(rf"\b{re.escape(a)}[\s-]?{re.escape(b)}s?\b"), a + b, b) for a, b in self.pairs]

    def join(self, text: str) -> str:
        for pattern, joined, part in self._rules:
            if part in text:  # any text the pattern matches contains it: skips most regexes
                text = pattern.sub(joined, text)
        return text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Compounds) and other.pairs == self.pairs

    def __hash__(self) -> int:
        return hash(self.pairs)

    def __repr__(self) -> str:
        return f"Compounds({list(self.pairs)})"

    @classmethod
    def derive(cls, titles: Iterable[str], types: Iterable[str]) -> "Compounds":
        """The catalog's product-type words that its own titles and labels spell more than one
        way: a type written as one word ("Tshirts", "Sweatshirts") that is also written as two
        ("t-shirt", "sweat shirts"), or a two-word type ("Flip Flops") also written hyphenated
        ("flip-flops"). Only type words: brands and colours ("Red Tape", "off-white") stay as written."""
        split, hyphen_only = set(), set()  # (first part, stemmed second part)
        for label in types:
            parts = _WORD.findall(label.lower())
            for word in parts:  # one word that may be two: every split with a 3+ letter second part
                if word.isalpha() and len(word) >= 4:
                    split.update((word[:i], stem(word[i:])) for i in range(1, len(word) - 2))
            if len(parts) == 2 and all(w.isalpha() for w in parts):
                hyphen_only.add((parts[0], stem(parts[1])))
        if not split and not hyphen_only:
            return NO_COMPOUNDS
        alternatives = "|".join(rf"{re.escape(a)}[ -]{re.escape(b)}" for a, b in sorted(split | hyphen_only))
        pattern = re.compile(rf"\b(?:{alternatives})(?:e?s)?\b")
        found = set()
        for text in titles:
            for match in pattern.finditer(text.lower()):
                a, b = re.split(r"[ -]", match.group(0), maxsplit=1)
                pair = (a, stem(b))
                if pair in split or (pair in hyphen_only and "-" in match.group(0)):
                    found.add(pair)
        return cls(found)


_WORD = re.compile(r"[a-z0-9]+")
NO_COMPOUNDS = Compounds()


def fold(text: str, compounds: Compounds = NO_COMPOUNDS) -> str:
    """Lowercase, strip accents and apostrophes ("men's" -> "mens"), join the catalog's compounds."""
    if text.isascii():  # nothing to normalise or strip: 5x faster on catalog text (bench/sync.py)
        text = text.lower()
    else:
        text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
        text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    if "'" in text:
        text = re.sub(r"(\w)'s\b", r"\1s", text).replace("'", "")
    return compounds.join(text) if compounds.pairs else text


@lru_cache(maxsize=1 << 16)  # a catalog repeats its words: indexing 20k products 2x faster
def stem(word: str) -> str:
    """A light English plural stemmer: enough to make "heels"/"heel" and "dresses"/"dress" meet."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us")):
        return word[:-1]
    return word


def plural(word: str) -> str:
    """The plural of an English noun as `stem` undoes it ("lamp" -> "lamps", "dress" -> "dresses",
    "accessory" -> "accessories"); a word that is already plural is left as it is."""
    if not word.isalpha() or stem(word) != word or (word.endswith("s") and len(word) <= 3):
        return word
    if word.endswith("y") and len(word) > 2 and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith(("s", "sh", "ch", "x", "z")):
        return word + "es"
    return word + "s"


def words(text: str, compounds: Compounds = NO_COMPOUNDS) -> list[str]:
    """Folded word tokens, unstemmed (for vocabulary matching)."""
    return _TOKEN.findall(fold(text, compounds))


def tokenize(text: str, drop_stopwords: bool = True, compounds: Compounds = NO_COMPOUNDS) -> list[str]:
    """Tokens for the keyword index and keyword queries."""
    return [stem(w) for w in words(text, compounds) if not (drop_stopwords and w in STOPWORDS)]
