"""The ranking policy every search follows: plan -> retrieve -> order -> results.

Text search (keyword + dense fusion, search.py) and photo search (image-vector similarity,
vision/photo_index.py) differ only in how they retrieve candidates. Everything else is here and
shared: hard filters as masks (relaxed when nothing survives), the candidate pools, preferences
that order products meeting them first (type before colour/gender), sorting, the signals each
result carries and the facet counts of the answer.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from catalog.schema import Product

from assistant.language.text import Compounds, stem, tokenize, words
from assistant.language.vocabulary import catalog_compounds
from assistant.language.understand import ParsedQuery
from assistant.retrieval.facets import (FACETS, FILTER_FIELDS, RELAX_ORDER, Filters, accepted, meets,
                                        merge_filters, missed, product_values, satisfied)

TYPED_WEIGHT = 100.0  # a preference the shopper typed outranks any number of recognised ones


@dataclass
class Result:
    """One ranked product with the signals that put it there."""

    product: Product
    score: float
    rank: int = 0
    keyword_rank: int | None = None
    keyword_score: float | None = None
    dense_rank: int | None = None
    dense_score: float | None = None
    matched_words: list[str] = field(default_factory=list)
    matched_attributes: list[str] = field(default_factory=list)
    missed_attributes: list[str] = field(default_factory=list)
    exact: bool = True
    why: str = ""

    def to_dict(self) -> dict:
        p = self.product
        return {
            "id": p.id, "title": p.title, "score": round(self.score, 6), "rank": self.rank,
            "category": " > ".join(p.category), "price": p.price, "currency": p.currency or None,
            "brand": p.brand or None, "colors": p.colors, "gender": p.gender or None,
            "rating": p.rating, "image": p.image or None, "why": self.why,
            "signals": {"keyword_rank": self.keyword_rank, "keyword_score": _round(self.keyword_score),
                        "dense_rank": self.dense_rank, "dense_score": _round(self.dense_score),
                        "matched_words": self.matched_words,
                        "matched_attributes": self.matched_attributes,
                        "missed_attributes": self.missed_attributes, "exact": self.exact},
        }


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 4)


@dataclass
class SearchResponse:
    """Ranked results plus what the shopper needs to narrow further."""

    query: ParsedQuery
    filters: Filters
    results: list[Result]
    total: int
    facets: dict[str, list[tuple[str, int]]]
    relaxed: list[str] = field(default_factory=list)
    mode: str = "smart"
    preferences: Filters = field(default_factory=Filters)
    exact_total: int = 0
    # photo queries: attribute -> [(value, probability)] recognised in the photo, best first
    recognised: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    # photo queries: cosine of the nearest catalog photo (whatever the filters); see scope.py
    closest: float | None = None
    # a query for something the catalog does not carry (scope.OutOfScope): results left empty
    out_of_scope: object | None = None


@dataclass
class Plan:
    """What one search will do before any candidate is retrieved."""

    hard: Filters              # every result meets these (after relaxation)
    preferences: Filters       # products meeting these come first
    typed: Filters             # preferences put in words next to a photo: they outrank the rest
    relaxed: list[str]         # hard filter fields dropped because nothing met them
    hard_mask: np.ndarray
    pools: list[np.ndarray | None]  # where to retrieve, best first: every preference, the type
                                    # alone, the hard filters (None: anywhere)
    report_unmet: bool         # when nothing meets every preference, name the ones that gave way


@dataclass
class Candidates:
    """What a retrieval found: a score per product position, the product positions that go first
    (the very item photographed) and the retrieval's own signals for each result."""

    score: dict[int, float]
    first: set[int] = field(default_factory=set)
    signals: Callable[[int], dict] = lambda doc: {}


def split_constraints(parsed: ParsedQuery, filters: Filters | None = None,
                      strict: bool = False) -> tuple[Filters, Filters]:
    """(hard, preferences) for a query: price bounds, negations and `filters` are hard; the
    attributes the words imply are preferences (hard as well with `strict`)."""
    implied = Filters.from_parsed(parsed)
    hard = Filters(price_min=implied.price_min, price_max=implied.price_max, exclude=list(implied.exclude))
    soft = Filters(**{f: list(getattr(implied, f)) for f in FILTER_FIELDS})
    if strict:
        hard, soft = implied, Filters()
    if filters is not None:
        hard = merge_filters(hard, filters)
    return hard, soft


class RankingPolicy:
    """Filters, relaxation, preferences, ordering and facet counts over one catalog's products."""

    def __init__(self, products: list[Product], compounds: Compounds | None = None) -> None:
        """`compounds`: the catalog's (index manifest); None derives them from `products`."""
        self.products = products
        self.compounds = catalog_compounds(products) if compounds is None else compounds
        n = len(products)
        self.prices = np.array([np.nan if p.price is None else p.price for p in products])
        self.ratings = np.array([0.0 if p.rating is None else p.rating for p in products])
        priced = Counter(p.currency for p in products if p.price is not None).most_common(1)
        self.currency = priced[0][0] if priced else ""  # the catalog's, for price chips ("under EUR 50")
        self.postings: dict[str, dict[str, np.ndarray]] = {}
        for facet in FACETS:
            lists: dict[str, list[int]] = {}
            for i, p in enumerate(products):
                for value in product_values(p, facet):
                    lists.setdefault(value, []).append(i)
            self.postings[facet.name] = {v: np.array(ids, dtype=np.int64) for v, ids in lists.items()}
        self._exclusion_tokens = [set(tokenize(exclusion_text(p), compounds=self.compounds)) for p in products]
        self.everything = np.ones(n, dtype=bool)

    # ------------------------------------------------------------------ plan
    def mask(self, filters: Filters) -> np.ndarray:
        """Boolean mask of products that satisfy every filter."""
        mask = self.everything.copy()
        if filters.price_min is not None:
            mask &= np.nan_to_num(self.prices, nan=-1) >= filters.price_min
        if filters.price_max is not None:
            mask &= np.nan_to_num(self.prices, nan=np.inf) <= filters.price_max
        for facet in FACETS:
            wanted = getattr(filters, facet.field)
            if not wanted:
                continue
            allowed = np.zeros(len(self.products), dtype=bool)
            for value in accepted(facet, wanted):
                ids = self.postings[facet.name].get(value)
                if ids is not None:
                    allowed[ids] = True
            mask &= allowed
        for term in filters.exclude:
            bad = {stem(w) for w in words(term, self.compounds)}
            if bad:
                hits = np.array([bad <= toks for toks in self._exclusion_tokens])
                mask &= ~hits
        return mask

    def relax(self, filters: Filters) -> tuple[np.ndarray, list[str]]:
        """Apply filters; if nothing survives, drop the least important facet filters in turn."""
        mask = self.mask(filters)
        relaxed: list[str] = []
        trial = replace(filters)
        for name in RELAX_ORDER:
            if mask.any():
                break
            if getattr(trial, name):
                trial = replace(trial, **{name: []})
                relaxed.append(name)
                mask = self.mask(trial)
        return mask, relaxed

    def plan(self, hard: Filters, preferences: Filters, typed: Filters | None = None,
             report_unmet: bool = True) -> Plan:
        """Relax the hard filters if nothing meets them, and lay out the candidate pools."""
        hard = replace(hard)
        hard_mask, relaxed = self.relax(hard)
        for name in relaxed:
            setattr(hard, name, [])
        pools: list[np.ndarray | None] = [None if hard.is_empty() else hard_mask]
        if not preferences.is_empty():
            pools.insert(0, self.mask(merge_filters(hard, preferences)))
            if preferences.categories and any(getattr(preferences, f) for f in FILTER_FIELDS
                                              if f != "categories"):
                pools.insert(1, self.mask(merge_filters(hard, Filters(categories=preferences.categories))))
        return Plan(hard, preferences, typed or Filters(), relaxed, hard_mask, pools, report_unmet)

    # ------------------------------------------------------------------ order
    @staticmethod
    def weight(product: Product | None, preferences: Filters) -> float:
        """How much of the preferences a product meets (None: the maximum possible)."""
        return sum((facet.weight for facet in FACETS if (wanted := getattr(preferences, facet.field))
                    and (product is None or meets(product, facet, wanted))), 0.0)

    def plan_weight(self, product: Product | None, plan: Plan) -> float:
        return self.weight(product, plan.preferences) + TYPED_WEIGHT * self.weight(product, plan.typed)

    def order(self, found: Candidates, plan: Plan, sort: str | None = None) -> list[int]:
        """Typed preferences first, then the very item, then preferences met, then score."""
        typed = {d: self.weight(self.products[d], plan.typed) for d in found.score}
        weight = {d: self.plan_weight(self.products[d], plan) for d in found.score}
        order = sorted(found.score, key=lambda d: (-typed[d], d not in found.first, -weight[d],
                                                   -found.score[d], d))
        return self.sort(order, sort)

    def sort(self, order: list[int], sort: str | None) -> list[int]:
        """Re-order by an explicit sort the shopper asked for (cheapest, best rated, newest)."""
        if sort in ("price_asc", "price_desc"):
            priced = [d for d in order if not math.isnan(self.prices[d])]
            unpriced = [d for d in order if math.isnan(self.prices[d])]
            priced.sort(key=lambda d: self.prices[d], reverse=sort == "price_desc")
            return priced + unpriced
        if sort == "rating_desc":
            return sorted(order, key=lambda d: -self.ratings[d])
        if sort == "newest":
            return sorted(order, key=lambda d: -_year(self.products[d]))
        return order

    # ------------------------------------------------------------------ results
    def respond(self, parsed: ParsedQuery, plan: Plan, found: Candidates, order: list[int], k: int,
                mode: str, recognised: dict | None = None) -> SearchResponse:
        """The top k as results with their signals, the facet counts and what gave way."""
        preferred = merge_filters(plan.hard, plan.preferences)
        full = self.plan_weight(None, plan)
        weight = {d: self.plan_weight(self.products[d], plan) for d in order}
        results = []
        for rank, doc in enumerate(order[:k], start=1):
            product = self.products[doc]
            results.append(Result(product=product, score=found.score[doc], rank=rank,
                                  matched_attributes=satisfied(product, preferred),
                                  missed_attributes=missed(product, plan.preferences),
                                  exact=weight[doc] >= full, **found.signals(doc)))
        exact_total = sum(1 for d in order if weight[d] >= full)
        relaxed = list(plan.relaxed)
        if plan.report_unmet and not exact_total and results:  # say which preferences gave way
            top = results[0].product
            relaxed += [facet.field for facet in FACETS if (wanted := getattr(plan.preferences, facet.field))
                        and not meets(top, facet, wanted)]
        return SearchResponse(parsed, replace(plan.hard, currency=self.currency), results, total=len(order),
                              facets=self.facet_counts(order), relaxed=relaxed, mode=mode,
                              preferences=plan.preferences, exact_total=exact_total,
                              recognised=dict(recognised or {}))

    def facet_counts(self, order: list[int], top: int = 8) -> dict[str, list[tuple[str, int]]]:
        facets: dict[str, list[tuple[str, int]]] = {}
        for facet in FACETS:
            counts = Counter(v for d in order for v in product_values(self.products[d], facet, leaf=True))
            if counts:
                facets[facet.name] = counts.most_common(top)
        return facets


def exclusion_text(p: Product) -> str:
    """What a negation is checked against; yes/no attributes count only when true."""
    parts = [p.title, p.material, " ".join(p.colors), " ".join(p.category), p.brand]
    for key, value in p.attributes.items():
        v = value.strip().lower()
        if v in ("no", "none", "false", "0", "n/a"):
            continue
        parts.append(key if v in ("yes", "true") else f"{key} {value}")
    return " ".join(parts)


def _year(p: Product) -> int:
    try:
        return int(p.attributes.get("year", 0))
    except ValueError:
        return 0
