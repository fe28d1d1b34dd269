"""English nouns the catalog never uses, read through WordNet (Debian `wordnet-base`).

A shopper, or a dictionary gloss of a foreign word, may name a product with a noun no product
title carries: "slacks", "brogues", "bermuda" (shorts), "tennis" (shoe). WordNet knows what such a
noun is a kind of ("slacks" -> trousers) and which compound nouns start with it ("bermuda shorts",
"tennis shoe"), so the catalog's own type words can be reached without a word list. It is asked
only for a word the catalog's vocabulary does not know, in a query that named no type.

The noun files (`index.noun`, `data.noun`, `noun.exc`) are parsed once (about a second): by the
served app's warm-up, or by the first query that asks (a one-off CLI search whose query names a
type never pays for it); when they are missing or unreadable one log line says so and queries are
read as before.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

SENSES = 2  # a word's most frequent senses (WordNet lists them by frequency)
DEPTH = 2  # levels of "is a kind of" to climb: slacks -> trousers; brogue -> shoe
_PLURALS = (("ses", "s"), ("xes", "x"), ("ches", "ch"), ("shes", "sh"), ("ies", "y"), ("s", ""))


class WordNet:
    """Noun senses, their synonyms and hypernyms, and the compounds each word starts."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.senses: dict[str, list[str]] = {}
        self.synsets: dict[str, tuple[list[str], list[str]]] = {}  # offset -> (lemmas, hypernyms)
        self.compounds: dict[str, list[str]] = defaultdict(list)  # "tennis" -> ["tennis shoe", ...]
        self.exceptions: dict[str, str] = {}
        self._loaded = False
        self._lock = threading.Lock()

    def load(self) -> None:
        """Parse the noun files, once (one thread parses; the others wait for it). Called by the first
        query that asks, or ahead of it by the served app's warm-up."""
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            try:
                self._parse()
            except (OSError, ValueError, IndexError) as exc:
                self.senses, self.synsets, self.exceptions = {}, {}, {}
                self.compounds.clear()
                log.warning("WordNet in %s could not be read (%s); words the catalog does not use are read "
                            "as typed", self.folder, exc)
            self._loaded = True

    def _parse(self) -> None:
        folder = self.folder
        with (folder / "index.noun").open(encoding="latin-1") as fh:
            for line in fh:
                if line.startswith(" "):
                    continue
                parts = line.split()
                lemma, count = parts[0].replace("_", " "), int(parts[2])
                self.senses[lemma] = parts[-count:]
                words = lemma.split()
                if len(words) == 2:
                    self.compounds[words[0]].append(lemma)
        with (folder / "data.noun").open(encoding="latin-1") as fh:
            for line in fh:
                if line.startswith(" "):
                    continue
                parts = line.split(" | ")[0].split()
                n = int(parts[3], 16)
                lemmas = [parts[4 + 2 * i].lower().replace("_", " ") for i in range(n)]
                i = 4 + 2 * n
                pointers, i = int(parts[i]), i + 1
                hypernyms = []
                for _ in range(pointers):
                    symbol, offset, pos = parts[i:i + 3]
                    i += 4
                    if symbol in ("@", "@i") and pos == "n":
                        hypernyms.append(offset)
                self.synsets[parts[0]] = (lemmas, hypernyms)
        exc = folder / "noun.exc"
        if exc.is_file():
            for line in exc.read_text(encoding="latin-1").splitlines():
                forms = line.split()
                if len(forms) >= 2:
                    self.exceptions[forms[0]] = forms[1]

    def lemma(self, word: str) -> str | None:
        """The dictionary form of a noun ("slacks" stays, "brogues" -> "brogue")."""
        self.load()
        if word in self.senses:
            return word
        if word in self.exceptions:
            return self.exceptions[word]
        for ending, replacement in _PLURALS:
            if word.endswith(ending) and word[:-len(ending)] + replacement in self.senses:
                return word[:-len(ending)] + replacement
        return None

    def type_word(self, word: str, names_type) -> str | None:
        """A word or phrase `names_type` accepts, reached from `word`: its own senses' synonyms,
        then what they are kinds of (up to DEPTH levels), then the one compound it starts whose
        last word names a type ("bermuda" -> "bermuda shorts"). None when nothing leads there."""
        lemma = self.lemma(word)
        if lemma is None:
            return None
        for sense in self.senses[lemma][:SENSES]:  # the most frequent sense first, all the way up
            found = self._climb([sense], names_type, skip=lemma)
            if found:
                return found
        starts = {lemma} | {word[:-len(e)] + r for e, r in _PLURALS if word.endswith(e)}  # "bermudas"
        heads = {c for start in starts for c in self.compounds.get(start, [])
                 if names_type(c.split()[-1]) and self._climb(self.senses[c][:1], names_type, skip=c)}
        return heads.pop() if len(heads) == 1 else None

    def _climb(self, frontier: list[str], names_type, skip: str) -> str | None:
        """The first lemma `names_type` accepts in these synsets or up to DEPTH levels above, met in
        its own most frequent sense."""
        seen: set[str] = set()
        for _ in range(DEPTH + 1):
            following = []
            for offset in frontier:
                if offset in seen or offset not in self.synsets:
                    continue
                seen.add(offset)
                lemmas, hypernyms = self.synsets[offset]
                for name in lemmas:  # in the sense that word has most often ("watch": timepiece, not vigil)
                    if name != skip and self.senses.get(name, [None])[0] == offset and names_type(name):
                        return name
                following += hypernyms
            frontier = following
        return None

NOUN_FILES = ("index.noun", "data.noun")


@lru_cache(maxsize=4)
def wordnet_for(folder: str) -> WordNet | None:
    """One WordNet per folder, parsed on first use; None (logged once) when its noun files are not
    installed."""
    missing = [name for name in NOUN_FILES if not (Path(folder) / name).is_file()]
    if missing:
        log.warning("WordNet unavailable in %s (no %s); words the catalog does not use are read as typed",
                    folder, ", ".join(missing))
        return None
    return WordNet(folder)
