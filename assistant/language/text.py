"""Text normalisation shared by the keyword index and query understanding."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_JOINS = [(re.compile(r"\bt[\s-]?shirts?\b"), "tshirt"), (re.compile(r"\bflip[\s-]?flops?\b"), "flipflop"),
          (re.compile(r"\bsweat[\s-]?shirts?\b"), "sweatshirt")]
STOPWORDS = frozenset("a an and the for of in on with to me i im i'm show find want need looking "
                      "some any please my like that this is are it its".split())


def fold(text: str) -> str:
    """Lowercase, strip accents and apostrophes ("men's" -> "mens"), join common compounds."""
    if text.isascii():  # nothing to normalise or strip: 5x faster on catalog text (bench/sync.py)
        text = text.lower()
    else:
        text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
        text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    if "'" in text:
        text = re.sub(r"(\w)'s\b", r"\1s", text).replace("'", "")
    for pattern, joined in _JOINS:
        if joined[-4:] in text:  # any text a pattern matches contains it ("hirt", "flop"): skips 3 regexes
            text = pattern.sub(joined, text)
    return text


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


def words(text: str) -> list[str]:
    """Folded word tokens, unstemmed (for vocabulary matching)."""
    return _TOKEN.findall(fold(text))


def tokenize(text: str, drop_stopwords: bool = True) -> list[str]:
    """Tokens for the keyword index and keyword queries."""
    return [stem(w) for w in words(text) if not (drop_stopwords and w in STOPWORDS)]
