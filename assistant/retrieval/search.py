"""Text search: keyword (bm25s) and dense candidates fused by reciprocal rank, then ranked by the
shared policy (policy.py: filters, relaxation, preferences, sorting, facet counts). Results carry
their signals for explanations and eval."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from assistant.errors import UnknownProduct
from assistant.models.encoders import TextEncoder
# Filters, FILTER_FIELDS, merge_filters, Result and SearchResponse are also imported from here
from assistant.retrieval.facets import FILTER_FIELDS, Filters, merge_filters, satisfied  # noqa: F401
from assistant.retrieval.index import CatalogIndex
from assistant.retrieval.policy import (Candidates, Plan, RankingPolicy, Result, SearchResponse,
                                        split_constraints)
from assistant.language.text import stem, tokenize, words
from assistant.language.understand import ParsedQuery, parse, retrieval_text
from assistant.language.vocabulary import CategoryMatcher, Vocabulary

MODES = ("keyword", "dense", "hybrid", "smart")


def rrf(rankings: list[list[int]], k: int = 60) -> dict[int, float]:
    """Reciprocal-rank fusion: sum of 1/(k + rank) over the lists an item appears in (rank from 1)."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, doc in enumerate(ranking, start=1):
            scores[doc] = scores.get(doc, 0.0) + 1.0 / (k + rank)
    return scores


class SearchEngine:
    """Search over one loaded catalog index. Cheap to query, built once per catalog."""

    reader = None  # reads foreign-language queries (assistant.language.translate.Reader); set by Assistant
    wordnet = None  # English nouns the catalog does not use (assistant.language.wordnet.WordNet); set by Assistant

    def __init__(self, index: CatalogIndex, encoder: TextEncoder, candidate_k: int = 200,
                 rrf_k: int = 60) -> None:
        self.index = index
        self.encoder = encoder
        self.products = index.products
        self.candidate_k = candidate_k
        self.rrf_k = rrf_k
        self.compounds = index.compounds
        self.vocab = Vocabulary.from_products(self.products, self.compounds)
        self._matcher: CategoryMatcher | None = None
        self.policy = RankingPolicy(self.products, self.compounds)
        self.ratings = self.policy.ratings

    @property
    def matcher(self) -> CategoryMatcher:
        """Semantic product-type matcher, built on first use from the index's vectors."""
        if self._matcher is None:
            vectors = np.asarray(self.index.vectors) if len(self.index.vectors) else np.zeros((0, self.encoder.dim))
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

    def is_english(self, word: str) -> bool:
        """A word fit for an English speech prompt: one the catalog's titles use, or one no foreign
        dictionary knows ("zapatos", "montre" are left out of it)."""
        if all(w in self.vocab.known_words for w in word.split()):
            return True
        return self.reader is None or not self.reader.is_foreign(word)

    def parse(self, text: str) -> ParsedQuery:
        """Understand a message with this catalog's vocabulary and product types."""
        return parse(text, self.vocab, self.matcher, reader=self.reader, wordnet=self.wordnet)

    # ------------------------------------------------------------------ retrieval
    def keyword_ranking(self, text: str, mask: np.ndarray | None, limit: int) -> tuple[list[int], np.ndarray]:
        tokens = [t for t in tokenize(text, compounds=self.compounds) if t in self.index.keyword.vocab_dict]
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

    def retrieve(self, text: str, plan: Plan, mode: str, limit: int,
                 query_vector: np.ndarray | None = None) -> Candidates:
        """Keyword and dense rankings in each pool of the plan, fused by reciprocal rank."""
        keyword_on, dense_on = mode in ("keyword", "hybrid", "smart"), mode != "keyword" and bool(text.strip())
        if dense_on and query_vector is None:
            query_vector = self.query_vector(text)
        kw_lists: list[list[int]] = []
        dense_lists: list[list[int]] = []
        kw_scores = None
        dense_scores: dict[int, float] = {}
        for pool in plan.pools:
            if pool is not None and not pool.any():
                continue
            if keyword_on:
                ranking, kw_scores = self.keyword_ranking(text, pool, limit)
                kw_lists.append(ranking)
            if dense_on:
                ranking, scores = self.dense_ranking(query_vector, pool, limit)
                dense_lists.append(ranking)
                dense_scores.update(scores)
        fused = rrf(kw_lists + dense_lists, self.rrf_k)
        if not fused and not text.strip():  # filters only: best rated first
            base = plan.pools[0] if plan.pools[0] is not None else self.policy.everything
            fused = {int(i): float(self.ratings[i]) / 1e3 for i in np.flatnonzero(base)[:limit]}
        kw_pos, dense_pos = _first_positions(kw_lists), _first_positions(dense_lists)
        qwords = {stem(w) for w in words(text, self.compounds)}

        def signals(doc: int) -> dict:
            return {"keyword_rank": kw_pos.get(doc), "dense_rank": dense_pos.get(doc),
                    "keyword_score": None if kw_scores is None or doc not in kw_pos else float(kw_scores[doc]),
                    "dense_score": dense_scores.get(doc),
                    "matched_words": sorted(qwords & set(tokenize(self.products[doc].search_text(),
                                                                  compounds=self.compounds)))}
        return Candidates(fused, signals=signals)

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
        # understand: without the catalog vocabulary (non-smart modes) only price and negations
        parsed = query if isinstance(query, ParsedQuery) else (
            self.parse(query) if mode == "smart" else parse(query))
        # plan: hard filters (relaxed if nothing meets them), preferences, candidate pools
        plan = self.policy.plan(*split_constraints(parsed, filters, strict))
        # retrieve: keyword + dense in each pool, fused
        text = parsed.original if mode != "smart" else retrieval_text(parsed)
        found = self.retrieve(text, plan, mode, max(self.candidate_k, k), query_vector)
        # order and answer: preferences met first, then fused score, then any sort asked for
        order = self.policy.order(found, plan, sort=parsed.sort)
        return self.policy.respond(parsed, plan, found, order, k, mode)

    def position(self, product_id: str) -> int:
        if not hasattr(self, "_positions"):
            self._positions = {p.id: i for i, p in enumerate(self.products)}
        if product_id not in self._positions:  # e.g. removed by `assistant sync` since it was shown
            raise UnknownProduct("That product is no longer in the catalog; try a new search.")
        return self._positions[product_id]

    def similar(self, product_id: str, k: int = 10, filters: Filters | None = None) -> SearchResponse:
        """More like one product: its embedding's nearest neighbours that meet the filters."""
        doc = self.position(product_id)
        hard = replace(filters or Filters(), currency=self.policy.currency)
        mask = self.policy.mask(hard)
        mask[doc] = False
        vector = np.array(self.index.vectors[doc], dtype=np.float32)
        ranking, scores = self.dense_ranking(vector, mask, k)
        source = self.products[doc]
        results = [Result(product=self.products[d], score=scores[d], rank=r, dense_rank=r,
                          dense_score=scores[d], matched_attributes=satisfied(self.products[d], hard),
                          why=f"Looks much like “{source.title}”."
                          if scores[d] >= 0.8 else f"Similar to “{source.title}”.")
                   for r, d in enumerate(ranking, 1)]
        parsed = ParsedQuery(original=f"more like {source.title}", text=source.title, intent="more_like")
        return SearchResponse(parsed, hard, results, total=len(results),
                              facets=self.policy.facet_counts(ranking), mode="similar")


def _first_positions(rankings: list[list[int]]) -> dict[int, int]:
    """Each product's rank in the first list it appears in (the pools are searched best first)."""
    pos: dict[int, int] = {}
    for ranking in rankings:
        for r, d in enumerate(ranking, 1):
            pos.setdefault(d, r)
    return pos


def _top(scores: np.ndarray, limit: int) -> np.ndarray:
    if limit >= len(scores):
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, limit)[:limit]
    return part[np.argsort(-scores[part], kind="stable")]
