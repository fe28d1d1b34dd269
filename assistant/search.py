"""Retrieval and ranking: keyword (bm25s) and dense (FAISS) candidates fused by reciprocal rank,
filtered, sorted, with facet counts. Results carry their signals for explanations and eval."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace

import faiss
import numpy as np

from catalog.schema import Product

from assistant.encoders import TextEncoder
from assistant.index import CatalogIndex
from assistant.text import stem, tokenize, words
from assistant.understand import ParsedQuery, parse
from assistant.vocabulary import Vocabulary

MODES = ("keyword", "dense", "hybrid", "smart")
FACET_ORDER = ("category", "color", "brand", "gender", "occasion", "material")
RELAX_ORDER = ("occasions", "materials", "brands", "colors", "genders", "categories")
FILTER_FIELDS = {"categories": "category", "colors": "color", "brands": "brand",
                 "genders": "gender", "occasions": "occasion", "materials": "material"}
INCLUSIVE_GENDERS = {"Men": ("Unisex",), "Women": ("Unisex",), "Boys": ("Unisex",), "Girls": ("Unisex",)}


@dataclass
class Filters:
    """Hard constraints on results. Values are the catalog's own facet values."""

    price_min: float | None = None
    price_max: float | None = None
    categories: list[str] = field(default_factory=list)
    colors: list[str] = field(default_factory=list)
    brands: list[str] = field(default_factory=list)
    genders: list[str] = field(default_factory=list)
    occasions: list[str] = field(default_factory=list)
    materials: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)

    @classmethod
    def from_parsed(cls, parsed: ParsedQuery) -> "Filters":
        return cls(parsed.price_min, parsed.price_max, list(parsed.categories), list(parsed.colors),
                   list(parsed.brands), list(parsed.genders), list(parsed.occasions),
                   list(parsed.materials), list(parsed.exclude))

    def is_empty(self) -> bool:
        return self.price_min is None and self.price_max is None and not any(
            getattr(self, f) for f in (*FILTER_FIELDS, "exclude"))

    def describe(self) -> list[str]:
        """Short chip labels, e.g. ["under $50", "Black", "not leather"]."""
        chips: list[str] = []
        if self.price_min is not None and self.price_max is not None:
            chips.append(f"${self.price_min:g}–${self.price_max:g}")
        elif self.price_max is not None:
            chips.append(f"under ${self.price_max:g}")
        elif self.price_min is not None:
            chips.append(f"over ${self.price_min:g}")
        for f in FILTER_FIELDS:
            chips += getattr(self, f)
        chips += [f"not {e}" for e in self.exclude]
        return chips


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
                        "matched_attributes": self.matched_attributes},
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


def rrf(rankings: list[list[int]], k: int = 60) -> dict[int, float]:
    """Reciprocal-rank fusion: sum of 1/(k + rank) over the lists an item appears in (rank from 1)."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, doc in enumerate(ranking, start=1):
            scores[doc] = scores.get(doc, 0.0) + 1.0 / (k + rank)
    return scores


class SearchEngine:
    """Search over one loaded catalog index. Cheap to query, built once per catalog."""

    def __init__(self, index: CatalogIndex, encoder: TextEncoder, candidate_k: int = 200,
                 rrf_k: int = 60) -> None:
        self.index = index
        self.encoder = encoder
        self.products = index.products
        self.candidate_k = candidate_k
        self.rrf_k = rrf_k
        self.vocab = Vocabulary.from_products(self.products)
        n = len(self.products)
        self.prices = np.array([np.nan if p.price is None else p.price for p in self.products])
        self.ratings = np.array([0.0 if p.rating is None else p.rating for p in self.products])
        self.postings: dict[str, dict[str, np.ndarray]] = {}
        for facet in FACET_ORDER:
            lists: dict[str, list[int]] = {}
            for i, p in enumerate(self.products):
                for value in _facet_values(p, facet):
                    lists.setdefault(value, []).append(i)
            self.postings[facet] = {v: np.array(ids, dtype=np.int64) for v, ids in lists.items()}
        self._exclusion_tokens = [set(tokenize(_exclusion_text(p))) for p in self.products]
        self._all = np.ones(n, dtype=bool)

    # ------------------------------------------------------------------ filters
    def mask(self, filters: Filters) -> np.ndarray:
        """Boolean mask of products that satisfy every filter."""
        mask = self._all.copy()
        if filters.price_min is not None:
            mask &= np.nan_to_num(self.prices, nan=-1) >= filters.price_min
        if filters.price_max is not None:
            mask &= np.nan_to_num(self.prices, nan=np.inf) <= filters.price_max
        for fname, facet in FILTER_FIELDS.items():
            values = list(getattr(filters, fname))
            if not values:
                continue
            if facet == "gender":
                values += [g for v in values for g in INCLUSIVE_GENDERS.get(v, ())]
            allowed = np.zeros(len(self.products), dtype=bool)
            for value in values:
                ids = self.postings[facet].get(value)
                if ids is not None:
                    allowed[ids] = True
            mask &= allowed
        for term in filters.exclude:
            bad = {stem(w) for w in words(term)}
            if bad:
                hits = np.array([bad <= toks for toks in self._exclusion_tokens])
                mask &= ~hits
        return mask

    # ------------------------------------------------------------------ retrieval
    def keyword_ranking(self, text: str, mask: np.ndarray | None, limit: int) -> tuple[list[int], np.ndarray]:
        tokens = [t for t in tokenize(text) if t in self.index.keyword.vocab_dict]
        if not tokens:
            return [], np.zeros(len(self.products), dtype=np.float32)
        scores = self.index.keyword.get_scores(tokens)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        order = _top(scores, limit)
        return [int(i) for i in order if scores[i] > 0], scores

    def dense_ranking(self, query_vector: np.ndarray, mask: np.ndarray | None,
                      limit: int) -> tuple[list[int], dict[int, float]]:
        params = None
        if mask is not None and not mask.all():
            allowed = np.flatnonzero(mask).astype(np.int64)
            if len(allowed) == 0:
                return [], {}
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
            limit = min(limit, len(allowed))
        limit = min(limit, self.index.dense.ntotal)
        scores, ids = self.index.dense.search(query_vector.reshape(1, -1), limit, params=params)
        ranking = [int(i) for i in ids[0] if i >= 0]
        return ranking, {int(i): float(s) for i, s in zip(ids[0], scores[0]) if i >= 0}

    # ------------------------------------------------------------------ search
    def search(self, query: str | ParsedQuery, k: int = 10, mode: str = "smart",
               filters: Filters | None = None, query_vector: np.ndarray | None = None) -> SearchResponse:
        """Rank products for a query. `filters` (from chips or flags) add to what the text implies."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
        parsed = query if isinstance(query, ParsedQuery) else parse(query, self.vocab if mode == "smart" else None)
        active = Filters.from_parsed(parsed)  # without a vocabulary: only price and negations
        if filters is not None:
            active = merge_filters(active, filters)
        text = parsed.original if mode != "smart" else (parsed.text or parsed.original)
        mask, relaxed = self._mask_with_relaxation(active)
        for name in relaxed:
            setattr(active, name, [])
        use_mask = None if active.is_empty() else mask
        limit = max(self.candidate_k, k)

        kw_rank: list[int] = []
        dense_rank: list[int] = []
        kw_scores = None
        dense_scores: dict[int, float] = {}
        if mode in ("keyword", "hybrid", "smart"):
            kw_rank, kw_scores = self.keyword_ranking(text, use_mask, limit)
        if mode in ("dense", "hybrid", "smart") and text.strip():
            if query_vector is None:
                query_vector = self.encoder.encode_queries([text])[0]
            dense_rank, dense_scores = self.dense_ranking(query_vector, use_mask, limit)
        if mode == "keyword":
            fused = {d: 1.0 / (self.rrf_k + r) for r, d in enumerate(kw_rank, 1)}
        elif mode == "dense":
            fused = {d: 1.0 / (self.rrf_k + r) for r, d in enumerate(dense_rank, 1)}
        else:
            fused = rrf([kw_rank, dense_rank], self.rrf_k)
        if not fused and use_mask is not None and not text.strip():
            fused = {int(i): float(self.ratings[i]) for i in np.flatnonzero(mask)[: limit]}

        order = sorted(fused, key=lambda d: (-fused[d], d))
        order = self._apply_sort(order, parsed.sort)
        kw_pos = {d: r for r, d in enumerate(kw_rank, 1)}
        dense_pos = {d: r for r, d in enumerate(dense_rank, 1)}
        qwords = {stem(w) for w in words(text)}
        results = []
        for rank, doc in enumerate(order[:k], start=1):
            product = self.products[doc]
            results.append(Result(
                product=product, score=fused[doc], rank=rank,
                keyword_rank=kw_pos.get(doc), dense_rank=dense_pos.get(doc),
                keyword_score=None if kw_scores is None or doc not in kw_pos else float(kw_scores[doc]),
                dense_score=dense_scores.get(doc),
                matched_words=sorted(qwords & set(tokenize(product.search_text()))),
                matched_attributes=_satisfied(product, active),
            ))
        facets = self.facet_counts(order)
        return SearchResponse(parsed, active, results, total=len(order), facets=facets,
                              relaxed=relaxed, mode=mode)

    def _mask_with_relaxation(self, filters: Filters) -> tuple[np.ndarray, list[str]]:
        """Apply filters; if nothing survives, drop the least important attribute filters in turn."""
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

    def _apply_sort(self, order: list[int], sort: str | None) -> list[int]:
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

    def facet_counts(self, order: list[int], top: int = 8) -> dict[str, list[tuple[str, int]]]:
        facets: dict[str, list[tuple[str, int]]] = {}
        for facet in FACET_ORDER:
            counts = Counter(v for d in order for v in _facet_values(self.products[d], facet, leaf=True))
            if counts:
                facets[facet] = counts.most_common(top)
        return facets


def merge_filters(a: Filters, b: Filters) -> Filters:
    """Union of two filter sets; `b` wins on price bounds."""
    out = replace(a)
    out.price_min = b.price_min if b.price_min is not None else a.price_min
    out.price_max = b.price_max if b.price_max is not None else a.price_max
    for fname in (*FILTER_FIELDS, "exclude"):
        setattr(out, fname, list(dict.fromkeys(getattr(a, fname) + getattr(b, fname))))
    return out


def _facet_values(p: Product, facet: str, leaf: bool = False) -> list[str]:
    if facet == "category":
        return [p.category[-1]] if leaf and p.category else list(p.category)
    if facet == "color":
        return list(p.colors)
    value = getattr(p, facet, "")
    return [value] if value else []


def _exclusion_text(p: Product) -> str:
    """What a negation is checked against; yes/no attributes count only when true."""
    parts = [p.title, p.material, " ".join(p.colors), " ".join(p.category), p.brand]
    for key, value in p.attributes.items():
        v = value.strip().lower()
        if v in ("no", "none", "false", "0", "n/a"):
            continue
        parts.append(key if v in ("yes", "true") else f"{key} {value}")
    return " ".join(parts)


def _satisfied(p: Product, filters: Filters) -> list[str]:
    out = []
    for fname, facet in FILTER_FIELDS.items():
        wanted = set(getattr(filters, fname))
        if facet == "gender":
            wanted |= {g for v in list(wanted) for g in INCLUSIVE_GENDERS.get(v, ())}
        out += [v for v in _facet_values(p, facet) if v in wanted]
    if p.price is not None and (filters.price_min is not None or filters.price_max is not None):
        out.append(f"${p.price:g}")
    out += [f"not {e}" for e in filters.exclude]
    return list(dict.fromkeys(out))


def _year(p: Product) -> int:
    try:
        return int(p.attributes.get("year", 0))
    except ValueError:
        return 0


def _top(scores: np.ndarray, limit: int) -> np.ndarray:
    if limit >= len(scores):
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, limit)[:limit]
    return part[np.argsort(-scores[part], kind="stable")]
