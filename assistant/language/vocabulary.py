"""The catalog's own vocabulary (categories, colours, brands, genders, occasions, materials),
plus everyday synonyms mapped onto it, so query understanding speaks the store's language."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path
import numpy as np
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable

from catalog.schema import Product

from assistant.language.text import NO_COMPOUNDS, Compounds, stem, words
from assistant.retrieval.facets import FACET_NAMES, FACETS, product_values

GENERIC_PARTS = frozenset("and or of the with set gift free accessory accessories other good goods "
                          "personal care home wear item".split())

EVERYDAY_WORDS = Path(__file__).parent / "data" / "everyday_words.tsv"


def load_everyday_words(path: Path = EVERYDAY_WORDS) -> dict[str, dict[str, list[str]]]:
    """Everyday words -> catalog values they may stand for, per facet (kept only if the catalog has
    the value). Data, not code: the file says where each entry came from."""
    synonyms: dict[str, dict[str, list[str]]] = defaultdict(dict)
    with path.open(encoding="utf-8") as fh:
        rows = csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t")
        for row in rows:
            synonyms[row["facet"]][row["word"]] = row["values"].split("|")
    return dict(synonyms)


SYNONYMS = load_everyday_words()


def _ves_forms(key: str) -> list[str]:
    """The other number of a key's last word where the plural stemmer cannot undo it:
    "scarve" (scarves) <-> "scarf", "knive" (knives) <-> "knife", "shelve" <-> "shelf"."""
    head, _, last = key.rpartition(" ")
    if last.endswith("ve"):
        alternatives = [last[:-2] + "f", last[:-2] + "fe"]
    elif last.endswith("fe"):
        alternatives = [last[:-2] + "ve"]
    elif last.endswith("f"):
        alternatives = [last[:-1] + "ve"]
    else:
        return []
    return [f"{head} {a}".strip() for a in alternatives]


def phrase_key(text: str, compounds: Compounds = NO_COMPOUNDS) -> str:
    """Folded, stemmed form used to compare phrases ("Men's Shoes" -> "men shoe")."""
    return " ".join(stem(w) for w in words(text, compounds))


def catalog_compounds(products: Iterable[Product]) -> Compounds:
    """The compound words of a catalog (text.Compounds.derive over its texts and type labels)."""
    products = list(products)
    return Compounds.derive((p.search_text() for p in products), {c for p in products for c in p.category})


@dataclass
class Vocabulary:
    """Canonical facet values seen in a catalog, and phrase -> (facet, values) lookups."""

    values: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    phrases: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    heads: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    parts: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    known_words: set[str] = field(default_factory=set)
    ancestors: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    compounds: Compounds = NO_COMPOUNDS  # the catalog's own compound words: every fold here uses them

    @classmethod
    def from_products(cls, products: Iterable[Product], compounds: Compounds | None = None) -> "Vocabulary":
        """`compounds`: as recorded in the index manifest; None derives them from `products`."""
        products = list(products)
        vocab = cls(compounds=catalog_compounds(products) if compounds is None else compounds)
        for p in products:
            for facet in FACETS:  # every level of the category path is a value
                for value in product_values(p, facet):
                    vocab.values[facet.name][value] += 1
            if p.category:
                vocab.ancestors[p.category[-1]].update(p.category)
            vocab.known_words.update(words(p.search_text(), vocab.compounds))
        vocab._index()
        return vocab

    def _index(self) -> None:
        table: dict[str, list[tuple[str, str]]] = defaultdict(list)
        canonical: dict[str, dict[str, str]] = {f: {} for f in FACET_NAMES}
        for facet in FACET_NAMES:
            for value in self.values[facet]:
                key = self.key(value)
                if key:
                    canonical[facet][key] = value
                    table[key].append((facet, value))
        for value in self.values["category"]:  # a head word stands for every type it ends
            tokens = self.key(value).split()
            if len(tokens) > 1 and tokens[-1] not in GENERIC_PARTS:
                self.heads[tokens[-1]].add(value)
                for token in tokens[:-1]:  # "perfume" names "Perfume and Body Mist"
                    if token not in GENERIC_PARTS:
                        self.parts[token].add(value)
        for facet, synonyms in SYNONYMS.items():
            for word, targets in synonyms.items():
                key = self.key(word) or word
                for target in targets:
                    value = canonical[facet].get(self.key(target) or target)
                    if value and (facet, value) not in table[key]:
                        table[key].append((facet, value))
        genders = {self.key(g) for g in self.values["gender"]}
        for key, hits in table.items():  # "Men" as a category level is the gender, not a type
            if any(f == "gender" for f, _ in hits):
                table[key] = [(f, v) for f, v in hits if not (f == "category" and self.key(v) in genders)]
        self.phrases = dict(table)

    def key(self, text: str) -> str:
        return phrase_key(text, self.compounds)

    def words(self, text: str) -> list[str]:
        return words(text, self.compounds)

    def lookup(self, key: str) -> list[tuple[str, str]]:
        """(facet, value) pairs a phrase key names; a bare head word ("shoe") names its types."""
        found = list(self.phrases.get(key, []))
        for form in ([] if found else _ves_forms(key)):  # "scarf" finds "Scarves", "shelves" "Shelf"
            found = list(self.phrases.get(form, []))
            if found:
                break
        if not found and key in self.heads:
            found = [("category", v) for v in sorted(self.heads[key])]
        if not found and key in self.parts:
            found = [("category", v) for v in sorted(self.parts[key])]
        return found

    def names_type(self, phrase: str, parts: bool = True) -> bool:
        """The phrase names a product type ("jacket", "tennis shoe"'s "shoe"); with `parts=False`
        a word that is only part of a type's name ("perfume" of "Perfume and Body Mist") does not."""
        key = self.key(phrase) or phrase
        return (parts or key not in self.parts) and any(f == "category" for f, _ in self.lookup(key))

    @cached_property
    def two_word_neighbours(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """For two-word keys: first word -> the second words it takes, and second word -> the
        first words before it, for mending a phrase with one misspelt word ("dress shaes")."""
        after: dict[str, list[str]] = defaultdict(list)
        before: dict[str, list[str]] = defaultdict(list)
        for key in self.phrases:
            parts = key.split()
            if len(parts) == 2:
                after[parts[0]].append(parts[1])
                before[parts[1]].append(parts[0])
        return dict(after), dict(before)

    def frequency(self, key: str) -> int:
        """How many products carry the values a key names (breaks ties between typo guesses)."""
        return sum(self.values[facet][value] for facet, value in self.lookup(key))

    def single_word_forms(self) -> dict[str, str]:
        """Spelling forms (stem and plural) of one-word keys, for fuzzy matching of typos."""
        keys = set(self.phrases) | set(self.heads) | set(self.parts)
        forms: dict[str, str] = {}
        for key in keys:
            if " " not in key and len(key) >= 4:
                forms.setdefault(key, key)
                forms.setdefault(key + "s", key)
        return forms


class CategoryMatcher:
    """Names a product type from words the vocabulary does not know ("jogging shoes",
    "brassiere", "slacks"): the phrase's embedding is compared with each leaf category's
    prototype (its name's embedding plus the centroid of its products' embeddings)."""

    MIN_SCORE = 0.6
    TIE_MARGIN = 0.03

    def __init__(self, encoder, names: list[str], prototypes: np.ndarray) -> None:
        self.encoder, self.names, self.prototypes = encoder, names, prototypes
        self._cache: dict[str, list[tuple[str, float]]] = {}

    @classmethod
    def from_catalog(cls, encoder, products: list[Product], vectors: np.ndarray) -> "CategoryMatcher":
        names = sorted({p.category[-1] for p in products if p.category})
        if not names:  # a store export without categories: nothing to name, nothing to match
            return cls(encoder, [], np.zeros((0, vectors.shape[1]), dtype=np.float32))
        index = {n: i for i, n in enumerate(names)}
        centroids = np.zeros((len(names), vectors.shape[1]), dtype=np.float32)
        for p, v in zip(products, vectors):
            if p.category:
                centroids[index[p.category[-1]]] += v
        centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-9)
        protos = centroids + encoder.encode_documents(names)
        protos /= np.maximum(np.linalg.norm(protos, axis=1, keepdims=True), 1e-9)
        return cls(encoder, names, protos.astype(np.float32))

    def nearest(self, phrase: str, n: int = 3) -> list[tuple[str, float]]:
        """The `n` categories whose prototype is closest to the phrase, however far (best first)."""
        phrase = phrase.strip()
        if not phrase or not self.names:
            return []
        scores = self.prototypes @ self.encoder.encode_queries([phrase])[0]
        order = np.argsort(-scores, kind="stable")[:n]
        return [(self.names[i], float(scores[i])) for i in order]

    def match(self, phrase: str) -> list[tuple[str, float]]:
        """Categories whose prototype is close to the phrase (best first); empty if none is."""
        phrase = phrase.strip()
        if not phrase or not self.names:
            return []
        if phrase not in self._cache:
            scores = self.prototypes @ self.encoder.encode_queries([phrase])[0]
            best = float(scores.max())
            keep = np.flatnonzero(scores >= max(self.MIN_SCORE, best - self.TIE_MARGIN))
            self._cache[phrase] = sorted(((self.names[i], float(scores[i])) for i in keep),
                                         key=lambda x: -x[1])
            if len(self._cache) > 10_000:
                self._cache.pop(next(iter(self._cache)))
        return self._cache[phrase]
