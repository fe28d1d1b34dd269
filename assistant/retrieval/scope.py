"""What a catalog carries: telling "we don't carry that here" from a search with poor results.

A text query is out of scope when the words naming the product (what is left after colours,
genders, brands, prices and other filters are taken out) name no type of the catalog, neither in
its own words nor by meaning (`CategoryMatcher`), no product's text uses them, and a type of the
store's other catalogs that this catalog has nothing like (`Reference`: "Sofas" for the fashion
catalog, "Sneakers" for a home-goods one) is clearly closer to them than any type of this one.
Closeness alone does not do: slang and rare words for types the catalog has ("sunnies",
"sherwani") are as far from every type as "sofa" is from fashion's. A photo is out of scope when
its nearest catalog photo is less similar than `PHOTO_MIN_SIMILARITY`.

Both thresholds are measured, not fitted to examples: `bench/dont_carry.py` runs every judged
query set (all of them are about things the catalog has, so any query flagged there is a false
positive) and real home-goods queries (WANDS) against the fashion catalog (all out of scope), and
the held-out photos of the photo eval against a plain-colour picture. The numbers are in
docs/dont_carry.md. No word lists: the same code answers for any catalog.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assistant.language.text import STOPWORDS, plural, stem, words
from assistant.language.understand import ParsedQuery
from assistant.language.vocabulary import phrase_key

# a query is for a type of another catalog of the store when its nearest such type (one this
# catalog has nothing like) is at least this similar and beats this catalog's best type by the
# margin; measured in docs/dont_carry.md (bench/dont_carry.py)
FOREIGN_MIN_SIMILARITY = 0.5
FOREIGN_MARGIN = 0.15
# another catalog's type this close (name embeddings) to one of ours is ours too ("T-Shirts", "Tshirts")
SAME_TYPE = 0.75
# between the plain-colour squares (nearest catalog photo 0.28-0.45) and every held-out catalog
# photo (lowest 0.513, 1st percentile 0.555, on a 1/16 slice of fashion: the full catalog only
# brings closer neighbours); docs/dont_carry.md
PHOTO_MIN_SIMILARITY = 0.48
NEAREST_TYPES = 3
# words that ask about the search rather than name a product ("show me some", "anything")
_FILLER = frozenset("show find want need looking look something anything some any stuff thing things "
                    "item items please buy get give me".split())


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-9)


class Reference:
    """The product types of the store's other catalogs that this catalog has nothing like: what
    a query's words are compared with, besides this catalog's own types, to tell "a type we
    lack" from "an odd word for a type we have" (slang and rare words are far from every type)."""

    def __init__(self, encoder, own: list[str], others: dict[str, str]) -> None:
        """`own`: this catalog's leaf types; `others`: another catalog's leaf type -> that catalog."""
        self.encoder = encoder
        own_keys = {phrase_key(n) for n in own}
        names = [n for n in others if phrase_key(n) not in own_keys]
        self.own = _unit(encoder.encode_documents(own)) if own else np.zeros((0, 1), dtype=np.float32)
        vectors = _unit(encoder.encode_documents(names)) if names else np.zeros((0, 1), dtype=np.float32)
        if names and len(own):
            keep = (vectors @ self.own.T).max(axis=1) < SAME_TYPE
            names, vectors = [n for n, k in zip(names, keep) if k], vectors[keep]
        self.names, self.vectors = names, vectors
        self.catalog_of = {n: others[n] for n in names}

    def compare(self, query: np.ndarray) -> tuple[tuple[str, float] | None, float]:
        """(the nearest foreign type and its similarity, or None; the best own-name similarity)."""
        own = float((self.own @ query).max()) if len(self.own) else 0.0
        if not self.names:
            return None, own
        sims = self.vectors @ query
        best = int(sims.argmax())
        return (self.names[best], float(sims[best])), own


@dataclass
class OutOfScope:
    """A query for something the catalog does not carry: what was asked for, and the catalog's
    nearest types (best first) with their similarity."""

    asked: str
    nearest: list[tuple[str, float]]
    similarity: float
    elsewhere: tuple[str, str] | None = None  # (the type asked for, the other catalog that has it)

    def message(self) -> str:
        names = [name for name, _ in self.nearest]
        offer = names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" or {names[-1]}"
        head = f"We don't carry {self.asked or 'that'} here."
        closest = "The closest type this catalog has is" if len(names) == 1 else \
            "The closest types this catalog has are"
        there = (f" (the '{self.elsewhere[1]}' catalog has {self.elsewhere[0]})"
                 if self.elsewhere else "")
        return (f"{head} {closest} {offer}; ask for one of them, or describe what you need "
                f"differently{there}.") if names else head


def product_words(parsed: ParsedQuery) -> list[str]:
    """The words of a query that may name a product: not matched as a colour, gender, brand,
    occasion or other filter, not a stop or filler word, not a number."""
    taken = {stem(w) for phrase in parsed.matched for w in words(phrase)}
    return [w for w in words(parsed.text) if stem(w) not in taken and w not in STOPWORDS
            and w not in _FILLER and not any(c.isdigit() for c in w)]


def text_scope(parsed: ParsedQuery, matcher, vocab, reference: Reference | None = None) -> OutOfScope | None:
    """`OutOfScope` when a parsed query names a product type the catalog does not have: its
    product words name no type of the catalog (in its words, or by meaning), no product uses
    them, and a type of another catalog that this one has nothing like is clearly closer."""
    if parsed.categories or not matcher.names or reference is None:
        return None
    asked = product_words(parsed)
    if not asked:
        return None  # only filters ("black", "for women", "under $50"): nothing to be missing
    if any(w in vocab.known_words or vocab.lookup(stem(w)) for w in asked):
        return None  # a word the catalog's products use (a brand in a title, a material, a type)
    phrase = " ".join(asked)
    query = matcher.encoder.encode_queries([phrase])[0]
    nearest = matcher.nearest(phrase, NEAREST_TYPES)
    foreign, own_names = reference.compare(query)
    own = max(nearest[0][1] if nearest else 0.0, own_names)
    if foreign is None or foreign[1] < FOREIGN_MIN_SIMILARITY or foreign[1] - own < FOREIGN_MARGIN:
        return None
    return OutOfScope(" ".join(asked[:-1] + [plural(asked[-1])]), nearest, own,
                      elsewhere=(foreign[0], reference.catalog_of[foreign[0]]))


def photo_scope(best_similarity: float | None, nearest_types: list[str]) -> OutOfScope | None:
    """`OutOfScope` when a photo's nearest catalog photo is far (a plain colour, a lamp in a
    fashion store); `nearest_types`: the types of the closest products, best first."""
    if best_similarity is None or best_similarity >= PHOTO_MIN_SIMILARITY:
        return None
    types = list(dict.fromkeys(nearest_types))[:NEAREST_TYPES]
    return OutOfScope("anything like your photo", [(t, 0.0) for t in types], best_similarity)
