"""What a catalog carries: telling "we don't carry that here" from a search with poor results.

A text query is out of scope when the words naming the product (what is left after colours,
genders, brands, prices and other filters are taken out) name no type of the catalog, neither in
its own words nor by meaning (`CategoryMatcher`), and their embedding is far from every type's
prototype: the best cosine is below `TEXT_MIN_SIMILARITY`. A photo is out of scope when its
nearest catalog photo is less similar than `PHOTO_MIN_SIMILARITY`.

Both thresholds are measured, not fitted to examples: `bench/dont_carry.py` runs every judged
query set (all of them are about things the catalog has, so any query flagged there is a false
positive) and real home-goods queries (WANDS) against the fashion catalog (all out of scope), and
the held-out photos of the photo eval against a plain-colour picture. The numbers are in
docs/dont_carry.md. No word lists: the same code answers for any catalog.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.language.text import STOPWORDS, plural, stem, words
from assistant.language.understand import ParsedQuery

# below the lowest best-type similarity of any judged in-scope query that named no type
# (0.437 on fashion-paraphrases) and above all but a few of the WANDS home-goods queries on the
# fashion catalog; see docs/dont_carry.md for the distributions
TEXT_MIN_SIMILARITY = 0.42
# below the 1st percentile of the nearest-neighbour similarity of held-out catalog photos
PHOTO_MIN_SIMILARITY = 0.45
NEAREST_TYPES = 3
# words that ask about the search rather than name a product ("show me some", "anything")
_FILLER = frozenset("show find want need looking look something anything some any stuff thing things "
                    "item items please buy get give me".split())


@dataclass
class OutOfScope:
    """A query for something the catalog does not carry: what was asked for, and the catalog's
    nearest types (best first) with their similarity."""

    asked: str
    nearest: list[tuple[str, float]]
    similarity: float

    def message(self) -> str:
        names = [name for name, _ in self.nearest]
        offer = names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" or {names[-1]}"
        head = f"We don't carry {self.asked or 'that'} here."
        closest = "The closest type this catalog has is" if len(names) == 1 else \
            "The closest types this catalog has are"
        return (f"{head} {closest} {offer}; "
                "ask for one of them, or describe what you need differently.") if names else head


def product_words(parsed: ParsedQuery) -> list[str]:
    """The words of a query that may name a product: not matched as a colour, gender, brand,
    occasion or other filter, not a stop or filler word, not a number."""
    taken = {stem(w) for phrase in parsed.matched for w in words(phrase)}
    return [w for w in words(parsed.text) if stem(w) not in taken and w not in STOPWORDS
            and w not in _FILLER and not any(c.isdigit() for c in w)]


def text_scope(parsed: ParsedQuery, matcher, vocab) -> OutOfScope | None:
    """`OutOfScope` when a parsed query names a product type the catalog does not have."""
    if parsed.categories or not matcher.names:
        return None
    asked = product_words(parsed)
    if not asked:
        return None  # only filters ("black", "for women", "under $50"): nothing to be missing
    if any(w in vocab.known_words or vocab.lookup(stem(w)) for w in asked):
        return None  # a word the catalog's products use (a brand in a title, a material, a type)
    nearest = matcher.nearest(" ".join(asked), NEAREST_TYPES)
    best = nearest[0][1] if nearest else 0.0
    if best >= TEXT_MIN_SIMILARITY:
        return None
    return OutOfScope(" ".join(asked[:-1] + [plural(asked[-1])]), nearest, best)


def photo_scope(best_similarity: float | None, nearest_types: list[str]) -> OutOfScope | None:
    """`OutOfScope` when a photo's nearest catalog photo is far (a plain colour, a lamp in a
    fashion store); `nearest_types`: the types of the closest products, best first."""
    if best_similarity is None or best_similarity >= PHOTO_MIN_SIMILARITY:
        return None
    types = list(dict.fromkeys(nearest_types))[:NEAREST_TYPES]
    return OutOfScope("anything like your photo", [(t, 0.0) for t in types], best_similarity)
