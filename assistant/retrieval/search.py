"""Retrieval and ranking: keyword (bm25s) and dense (FAISS) candidates fused by reciprocal rank,
filtered, sorted, with facet counts. Results carry their signals for explanations and eval."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from catalog.schema import Product

from assistant.errors import ShopperError
from assistant.models.encoders import TextEncoder
from assistant.retrieval.index import CatalogIndex
from assistant.language.text import stem, tokenize, words
from assistant.language.understand import ParsedQuery, parse, retrieval_text
from assistant.language.vocabulary import CategoryMatcher, Vocabulary

MODES = ("keyword", "dense", "hybrid", "smart")
FACET_ORDER = ("category", "color", "brand", "gender", "occasion", "material")
RELAX_ORDER = ("occasions", "materials", "brands", "colors", "genders", "categories")
FILTER_FIELDS = {"categories": "category", "colors": "color", "brands": "brand",
                 "genders": "gender", "occasions": "occasion", "materials": "material"}
PREFERENCE_WEIGHTS = {"category": 8.0, "gender": 2.0, "color": 2.0, "brand": 2.0,
                      "occasion": 1.0, "material": 1.0}
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
        self._matcher: CategoryMatcher | None = None
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

    @property
    def matcher(self) -> CategoryMatcher:
        """Semantic product-type matcher, built on first use from the index's vectors."""
        if self._matcher is None:
            n = self.index.dense.ntotal
            vectors = self.index.dense.reconstruct_n(0, n) if n else np.zeros((0, self.encoder.dim))
            self._matcher = CategoryMatcher.from_catalog(self.encoder, self.products, vectors)
        return self._matcher

    def query_vector(self, text: str) -> np.ndarray:
        """The query's embedding, cached: refinement turns re-use the unchanged text's vector."""
        cache = self.__dict__.setdefault("_vectors", {})
        if text not in cache:
            if len(cache) >= 4096:
                cache.pop(next(iter(cache)))
            cache[text] = self.encoder.encode_queries([text])[0]
        return cache[text]

    def parse(self, text: str) -> ParsedQuery:
        """Understand a message with this catalog's vocabulary and product types."""
        return parse(text, self.vocab, self.matcher)

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
        allowed = None
        if mask is not None and not mask.all():
            allowed = np.flatnonzero(mask).astype(np.int64)
            if len(allowed) == 0:
                return [], {}
        # the configured vector backend (FAISS in-process, or Milvus) ranks the allowed rows
        ids, scores = self.index.backend.search_rows(query_vector, limit, allowed)
        ranking = [int(i) for i in ids]
        return ranking, {int(i): float(s) for i, s in zip(ids, scores)}

    # ------------------------------------------------------------------ search
    def search(self, query: str | ParsedQuery, k: int = 10, mode: str = "smart",
               filters: Filters | None = None, query_vector: np.ndarray | None = None,
               strict: bool = False) -> SearchResponse:
        """Rank products for a query.

        `filters` (chips, CLI flags) are hard. Attributes the text implies ("black", "heels",
        "for women") are preferences in `smart` mode: products meeting all of them come first,
        then those meeting the most important ones (type before gender/colour), so a rare
        combination still shows close alternatives. `strict=True` makes them hard as well.
        Price bounds and negations in the text are always hard.
        """
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
        parsed = query if isinstance(query, ParsedQuery) else (
            self.parse(query) if mode == "smart" else parse(query))
        implied = Filters.from_parsed(parsed)  # without a vocabulary: only price and negations
        hard = Filters(implied.price_min, implied.price_max, exclude=list(implied.exclude))
        soft = Filters(**{f: list(getattr(implied, f)) for f in FILTER_FIELDS})
        if strict:
            hard, soft = implied, Filters()
        if filters is not None:
            hard = merge_filters(hard, filters)
        preferred = merge_filters(hard, soft)
        text = parsed.original if mode != "smart" else retrieval_text(parsed)
        hard_mask, relaxed = self._mask_with_relaxation(hard)
        for name in relaxed:
            setattr(hard, name, [])
        preferred = merge_filters(hard, soft)
        limit = max(self.candidate_k, k)

        # candidate pools: products meeting every preference, the type alone, and the hard filters
        pools = [None if hard.is_empty() else hard_mask]
        if not soft.is_empty():
            pools.insert(0, self.mask(preferred))
            if soft.categories and any(getattr(soft, f) for f in FILTER_FIELDS if f != "categories"):
                pools.insert(1, self.mask(merge_filters(hard, Filters(categories=soft.categories))))
        kw_lists: list[list[int]] = []
        dense_lists: list[list[int]] = []
        kw_scores = None
        dense_scores: dict[int, float] = {}
        if mode in ("dense", "hybrid", "smart") and text.strip() and query_vector is None:
            query_vector = self.query_vector(text)
        for pool in pools:
            if pool is not None and not pool.any():
                continue
            if mode in ("keyword", "hybrid", "smart"):
                ranking, kw_scores = self.keyword_ranking(text, pool, limit)
                kw_lists.append(ranking)
            if mode in ("dense", "hybrid", "smart") and text.strip():
                ranking, scores = self.dense_ranking(query_vector, pool, limit)
                dense_lists.append(ranking)
                dense_scores.update(scores)
        fused = rrf(kw_lists + dense_lists, self.rrf_k)
        if not fused and not text.strip():  # filters only: best rated first
            base = pools[0] if pools[0] is not None else self._all
            fused = {int(i): float(self.ratings[i]) / 1e3 for i in np.flatnonzero(base)[:limit]}

        weight = {d: self._preference_weight(self.products[d], soft) for d in fused}
        order = sorted(fused, key=lambda d: (-weight[d], -fused[d], d))
        order = self._apply_sort(order, parsed.sort)
        kw_pos = {d: r for r, d in enumerate(kw_lists[0], 1)} if kw_lists else {}
        dense_pos = {d: r for r, d in enumerate(dense_lists[0], 1)} if dense_lists else {}
        for lists, pos in ((kw_lists, kw_pos), (dense_lists, dense_pos)):
            for ranking in lists[1:]:
                for r, d in enumerate(ranking, 1):
                    pos.setdefault(d, r)
        qwords = {stem(w) for w in words(text)}
        full = self._preference_weight(None, soft)
        results = []
        for rank, doc in enumerate(order[:k], start=1):
            product = self.products[doc]
            results.append(Result(
                product=product, score=fused[doc], rank=rank,
                keyword_rank=kw_pos.get(doc), dense_rank=dense_pos.get(doc),
                keyword_score=None if kw_scores is None or doc not in kw_pos else float(kw_scores[doc]),
                dense_score=dense_scores.get(doc),
                matched_words=sorted(qwords & set(tokenize(product.search_text()))),
                matched_attributes=_satisfied(product, preferred),
                missed_attributes=_missed(product, soft),
                exact=weight[doc] >= full,
            ))
        facets = self.facet_counts(order)
        exact_total = sum(1 for d in order if weight[d] >= full)
        if not exact_total and results:  # nothing met every implied attribute: say which gave way
            relaxed += [f for f in FILTER_FIELDS if getattr(soft, f) and
                        not set(getattr(soft, f)) & set(_facet_values(results[0].product, FILTER_FIELDS[f]))]
        return SearchResponse(parsed, hard, results, total=len(order), facets=facets,
                              relaxed=relaxed, mode=mode, preferences=soft, exact_total=exact_total)

    @staticmethod
    def _preference_weight(product: Product | None, soft: Filters) -> float:
        """How much of what the shopper implied a product meets (None: the maximum possible)."""
        total = 0.0
        for fname, facet in FILTER_FIELDS.items():
            wanted = getattr(soft, fname)
            if not wanted:
                continue
            if product is None:
                total += PREFERENCE_WEIGHTS[facet]
                continue
            allowed = set(wanted)
            if facet == "gender":
                allowed |= {g for v in wanted for g in INCLUSIVE_GENDERS.get(v, ())}
            if allowed & set(_facet_values(product, facet)):
                total += PREFERENCE_WEIGHTS[facet]
        return total

    def position(self, product_id: str) -> int:
        if not hasattr(self, "_positions"):
            self._positions = {p.id: i for i, p in enumerate(self.products)}
        if product_id not in self._positions:  # e.g. removed by `assistant sync` since it was shown
            raise ShopperError("That product is no longer in the catalog; try a new search.")
        return self._positions[product_id]

    def similar(self, product_id: str, k: int = 10, filters: Filters | None = None) -> SearchResponse:
        """More like one product: its embedding's nearest neighbours that meet the filters."""
        doc = self.position(product_id)
        hard = filters or Filters()
        mask = self.mask(hard)
        mask[doc] = False
        vector = self.index.dense.reconstruct(doc)
        ranking, scores = self.dense_ranking(vector, mask, k)
        source = self.products[doc]
        results = [Result(product=self.products[d], score=scores[d], rank=r, dense_rank=r,
                          dense_score=scores[d], matched_attributes=_satisfied(self.products[d], hard),
                          why=f"Similar to “{source.title}” ({scores[d]:.2f}).")
                   for r, d in enumerate(ranking, 1)]
        parsed = ParsedQuery(original=f"more like {source.title}", text=source.title, intent="more_like")
        return SearchResponse(parsed, hard, results, total=len(results),
                              facets=self.facet_counts(ranking), mode="similar")

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


def _missed(p: Product, soft: Filters) -> list[str]:
    """Implied attributes this product does not have, e.g. ["Red"] for a blue dress."""
    out = []
    for fname, facet in FILTER_FIELDS.items():
        wanted = getattr(soft, fname)
        allowed = set(wanted) | ({g for v in wanted for g in INCLUSIVE_GENDERS.get(v, ())}
                                 if facet == "gender" else set())
        if wanted and not allowed & set(_facet_values(p, facet)):
            out.append(" or ".join(wanted))
    return out


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
