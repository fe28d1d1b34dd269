"""Recommendations from shopper history, returned as search `Result`s so cards render the same.

Sources, each a pure function of item indices (so the offline eval calls the very same code):
- `knn`: more like what the shopper viewed (cosine over the catalog's own embeddings; the baseline);
- `cooc`: viewed/bought together by other shoppers (item-item co-occurrence, cosine-normalised);
- `popular`: popularity and rating by category, for cold start;
- `hybrid`: a blend of the three, then MMR for diversity. Purchased items are never recommended.
`rerank` is the opt-in, bounded personal re-ranking of search results.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np
from scipy import sparse

from assistant.errors import ShopperError
from assistant.history import HistoryStore
from assistant.search import Filters, Result, SearchEngine, SearchResponse
from assistant.understand import ParsedQuery

log = logging.getLogger(__name__)

METHODS = ("hybrid", "knn", "knn-last", "cooc", "popular")
KIND_WEIGHT = {"view": 1.0, "click": 2.0, "add_to_cart": 3.0, "purchase": 4.0}
VERB = {"view": "viewed", "click": "opened", "add_to_cart": "added to your cart", "purchase": "bought"}
RECENCY_DECAY = 0.85  # each older distinct item counts this much less than the next newer one
MAX_SEEDS = 20
BLEND = {"knn": 1.0, "cooc": 1.0, "popular": 0.1}  # chosen on train-query validation, never the test side


@dataclass
class Profile:
    """What the recommender knows about one shopper: recent items, newest first."""

    seeds: list[tuple[int, float, str]] = field(default_factory=list)  # (item, weight, strongest kind)
    bought: set[int] = field(default_factory=set)
    seen: set[int] = field(default_factory=set)

    @classmethod
    def from_items(cls, items: Sequence[tuple[int, str]]) -> "Profile":
        """Build from (item, kind) pairs, oldest first (the order events happened)."""
        best: dict[int, str] = {}
        order: list[int] = []
        for item, kind in reversed(items):  # newest first
            if item not in best:
                order.append(item)
                best[item] = kind
            elif KIND_WEIGHT[kind] > KIND_WEIGHT[best[item]]:
                best[item] = kind
        seeds = [(i, KIND_WEIGHT[best[i]] * RECENCY_DECAY ** r, best[i]) for r, i in enumerate(order[:MAX_SEEDS])]
        return cls(seeds, {i for i, k in items if k == "purchase"}, set(best))


@dataclass
class Scored:
    """Scores over all items from one source, and the seed (or category) that explains each."""

    scores: np.ndarray
    explain: Callable[[int], str] = lambda item: ""


class CoOccurrence:
    """Item-item co-occurrence from sessions: C = SᵀS over a session × item matrix, cosine-normalised."""

    def __init__(self, matrix: sparse.csr_matrix, bought: sparse.csr_matrix | None = None) -> None:
        self.matrix = matrix
        self.bought = bought

    @classmethod
    def fit(cls, sessions: Iterable[Sequence[tuple[int, str]]], n_items: int,
            max_len: int = 50) -> "CoOccurrence":
        rows, cols, vals, brows, bcols = [], [], [], [], []
        s = -1
        for s, items in enumerate(sessions):
            weights: dict[int, float] = {}
            for item, kind in list(items)[-max_len:]:
                weights[item] = max(weights.get(item, 0.0), KIND_WEIGHT[kind])
                if kind == "purchase":
                    brows.append(s)
                    bcols.append(item)
            rows += [s] * len(weights)
            cols += list(weights)
            vals += list(weights.values())
        shape = (s + 1, n_items)
        S = sparse.csr_matrix((np.array(vals, dtype=np.float32), (rows, cols)), shape=shape)
        C = (S.T @ S).tocsr()
        C.setdiag(0)
        C.eliminate_zeros()
        norm = np.sqrt(np.asarray((S.multiply(S)).sum(axis=0)).ravel()) + 1e-9
        C = sparse.diags(1 / norm) @ C @ sparse.diags(1 / norm)
        B = None
        if brows:
            Bs = sparse.csr_matrix((np.ones(len(brows), np.float32), (brows, bcols)), shape=shape)
            B = (Bs.T @ Bs).tocsr()
        return cls(C.tocsr(), B)

    def bought_together(self, a: int, b: int) -> bool:
        return self.bought is not None and self.bought[a, b] > 0


class Popularity:
    """How many shoppers engaged with an item (weighted by kind), plus a damped rating."""

    def __init__(self, engagement: np.ndarray, ratings: np.ndarray, rating_counts: np.ndarray,
                 categories: list[str]) -> None:
        self.categories = categories
        prior_n = 5.0
        rated = rating_counts > 0
        mean = float(ratings[rated].mean()) if rated.any() else 0.0
        bayes = np.where(rated, (ratings * rating_counts + mean * prior_n) / (rating_counts + prior_n), 0.0)
        eng = np.log1p(engagement)
        self.engagement = engagement
        self.ratings = bayes
        self.scores = (eng / (eng.max() or 1.0)) + 0.5 * (bayes / 5.0)
        self.by_category: dict[str, np.ndarray] = defaultdict(lambda: np.array([], dtype=np.int64))
        members: dict[str, list[int]] = defaultdict(list)
        for i, c in enumerate(categories):
            members[c].append(i)
        for c, ids in members.items():
            ids_a = np.array(ids)
            self.by_category[c] = ids_a[np.argsort(-self.scores[ids_a], kind="stable")]

    @classmethod
    def fit(cls, engine: SearchEngine, sessions: Iterable[Sequence[tuple[int, str]]]) -> "Popularity":
        n = len(engine.products)
        engagement = np.zeros(n, dtype=np.float64)
        for items in sessions:
            best: dict[int, float] = {}
            for item, kind in items:
                best[item] = max(best.get(item, 0.0), KIND_WEIGHT[kind])
            for item, w in best.items():
                engagement[item] += w
        counts = np.array([p.rating_count or (1 if p.rating is not None else 0) for p in engine.products], float)
        return cls(engagement, engine.ratings.astype(float), counts,
                   [p.leaf_category for p in engine.products])

    def reason(self, item: int) -> str:
        cat = self.categories[item] or "this store"
        if self.engagement[item] > 0:
            return f"Popular in {cat}."
        if self.ratings[item] > 0:
            return f"Top rated in {cat} ({self.ratings[item]:.1f}★)."
        return f"A pick from {cat}, to get you started."


def item_vectors(engine: SearchEngine) -> np.ndarray:
    """The catalog's own product embeddings (L2-normalised), read back from the FAISS index."""
    dense = engine.index.dense
    try:
        return np.ascontiguousarray(dense.reconstruct_n(0, dense.ntotal), dtype=np.float32)
    except RuntimeError as exc:  # e.g. IVF without a direct map
        raise ShopperError("This catalog's index cannot give back its vectors; rebuild it with "
                           "ASSISTANT_INDEX_KIND=flat or hnsw.") from exc


class Recommender:
    """Recommendations over one loaded catalog; history comes from a `HistoryStore` (optional)."""

    def __init__(self, engine: SearchEngine, catalog: str, store: HistoryStore | None = None) -> None:
        self.engine, self.catalog, self.store = engine, catalog, store
        self.products = engine.products
        self.vectors = item_vectors(engine)
        self.position = {p.id: i for i, p in enumerate(self.products)}
        self.cooc: CoOccurrence | None = None
        self.popularity = Popularity.fit(engine, [])
        self._version: object = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ models from the store
    def refresh(self, max_age_s: float = 30.0) -> None:
        """(Re)build co-occurrence and popularity from all shoppers' events when they changed."""
        if self.store is None:
            return
        with self._lock:
            version = self.store.version()
            if version == self._version and time.time() - getattr(self, "_built", 0) < max_age_s:
                return
            sessions = [[(self.position[p], k) for k, p in items if p in self.position]
                        for _, items in self.store.sessions(self.catalog)]
            self.cooc = CoOccurrence.fit(sessions, len(self.products)) if sessions else None
            self.popularity = Popularity.fit(self.engine, sessions)
            self._version, self._built = version, time.time()

    def profile(self, shopper: str) -> Profile:
        if self.store is None:
            return Profile()
        events = self.store.events(shopper, self.catalog, kinds=KIND_WEIGHT, limit=500)
        items = [(self.position[e.product_id], e.kind) for e in reversed(events) if e.product_id in self.position]
        return Profile.from_items(items)

    # ------------------------------------------------------------------ sources
    def knn(self, profile: Profile, last_only: bool = False) -> Scored:
        """Cosine similarity to the recency- and kind-weighted seeds (the baseline). Purchases are
        not seeds here: after buying a sofa a shopper wants a lamp more than five more sofas."""
        seeds = [s for s in profile.seeds if s[2] != "purchase"]
        seeds = seeds[:1] if last_only else seeds
        if not seeds:
            return Scored(np.zeros(len(self.products)))
        ids = np.array([s[0] for s in seeds])
        w = np.array([s[1] for s in seeds], dtype=np.float32)
        scores = (w @ (self.vectors[ids] @ self.vectors.T)) / w.sum()  # weighted mean cosine

        def explain(item: int) -> str:  # the seed that contributes most
            return self._because(seeds[int(((self.vectors[ids] @ self.vectors[item]) * w).argmax())])
        return Scored(scores, explain)

    def co_occurrence(self, profile: Profile, cooc: CoOccurrence | None = None) -> Scored:
        cooc = cooc or self.cooc
        n = len(self.products)
        if cooc is None or not profile.seeds:
            return Scored(np.zeros(n))
        ids = [s[0] for s in profile.seeds]
        w = np.array([s[1] for s in profile.seeds], dtype=np.float32)
        rows = cooc.matrix[ids]  # seeds × items (sparse)
        scores = np.asarray(rows.T @ w).ravel()

        def explain(item: int) -> str:
            col = rows[:, item].toarray().ravel() * w
            seed = profile.seeds[int(col.argmax())][0]
            title = self.products[seed].title
            return (f"Often bought together with {title}." if cooc.bought_together(seed, item)
                    else f"Shoppers who looked at {title} also looked at this.")
        return Scored(scores, explain)

    def popular(self, profile: Profile, popularity: Popularity | None = None) -> Scored:
        """Popularity within the shopper's categories; across all categories for a new shopper."""
        pop = popularity or self.popularity
        cats = Counter(pop.categories[s[0]] for s in profile.seeds)
        scores = np.zeros(len(self.products))
        if cats:
            for cat, n in cats.items():
                ids = pop.by_category[cat]
                scores[ids] = np.maximum(scores[ids], pop.scores[ids] * n / sum(cats.values()))
        else:  # cold start: the best of each category, round robin, so the panel is varied
            lists = sorted(pop.by_category.values(), key=lambda ids: -pop.scores[ids[0]] if len(ids) else 0)
            for depth in range(3):
                for r, ids in enumerate(lists):
                    if depth < len(ids):
                        scores[ids[depth]] = 1.0 / (1 + depth * len(lists) + r)
        return Scored(scores, pop.reason)

    # ------------------------------------------------------------------ ranking
    def rank(self, profile: Profile, k: int = 10, method: str = "hybrid", diversity: float = 0.3,
             cooc: CoOccurrence | None = None, popularity: Popularity | None = None,
             exclude: Iterable[int] = (), explain: bool = True) -> list[tuple[int, float, str]]:
        """Top-k (item, score, why). Never returns purchased or already-seen items."""
        if method not in METHODS:
            raise ShopperError(f"Unknown recommender '{method}'. Use one of: {', '.join(METHODS)}.")
        if method == "knn":
            parts = {"knn": self.knn(profile)}
        elif method == "knn-last":
            parts = {"knn": self.knn(profile, last_only=True)}
        elif method == "cooc":
            parts = {"cooc": self.co_occurrence(profile, cooc)}
        elif method == "popular" or not profile.seeds:
            parts = {"popular": self.popular(profile, popularity)}
        else:
            parts = {"knn": self.knn(profile), "cooc": self.co_occurrence(profile, cooc),
                     "popular": self.popular(profile, popularity)}
        total = np.zeros(len(self.products))
        normed = {}
        for name, part in parts.items():
            normed[name] = normalize(part.scores)
            total += BLEND.get(name, 1.0) * normed[name]
        banned = np.array(sorted(set(profile.seen) | set(profile.bought) | set(exclude)), dtype=np.int64)
        total[banned] = -np.inf
        candidates = [int(i) for i in np.argsort(-total)[: max(100, 5 * k)] if total[i] > 0]
        if method == "hybrid" and diversity > 0:
            chosen = mmr(candidates, total, self.vectors, k, 1 - diversity)
        else:
            chosen = candidates[:k]
        out = []
        for i in chosen:
            source = max(parts, key=lambda name: BLEND.get(name, 1.0) * normed[name][i])
            out.append((i, float(total[i]), parts[source].explain(i) if explain else ""))
        return out

    def recommend(self, shopper: str, k: int = 10, method: str = "hybrid",
                  diversity: float = 0.3) -> list[Result]:
        """Recommendations for a shopper, as search results (cards render them the same)."""
        self.refresh()
        profile = self.profile(shopper)
        return [Result(product=self.products[i], score=score, rank=r, why=why,
                       dense_score=float(self._seed_similarity(profile, i)) if profile.seeds else None)
                for r, (i, score, why) in enumerate(self.rank(profile, k, method, diversity), start=1)]

    def rerank(self, shopper: str, response: SearchResponse, max_shift: int = 3) -> SearchResponse:
        """Opt-in personal re-ranking: results close to the shopper's history move up, at most
        `max_shift` places (and any result moves down at most as far). Off unless opted in."""
        if self.store is None or max_shift <= 0 or not response.results or not self.store.personalize(shopper):
            return response
        profile = self.profile(shopper)
        if not profile.seeds:
            return response
        ids = [self.position.get(r.product.id) for r in response.results]
        affinity = np.array([0.0 if i is None else max(0.0, self._seed_similarity(profile, i)) for i in ids])
        spread = affinity.max() - affinity.min()
        affinity = (affinity - affinity.min()) / spread if spread > 1e-6 else np.zeros_like(affinity)
        keys = [r.rank - max_shift * a for r, a in zip(response.results, affinity)]
        order = sorted(range(len(keys)), key=lambda j: (keys[j], j))
        results = []
        for new_rank, j in enumerate(order, start=1):
            r = response.results[j]
            if new_rank < r.rank:
                r.why = (r.why + " " if r.why else "") + "Moved up: close to what you viewed."
            r.rank = new_rank
            results.append(r)
        response.results = results
        return response

    # ------------------------------------------------------------------ helpers
    def _seed_similarity(self, profile: Profile, item: int) -> float:
        ids = [s[0] for s in profile.seeds]
        return float((self.vectors[ids] @ self.vectors[item]).max())

    def _because(self, seed: tuple[int, float, str]) -> str:
        return f"Because you {VERB[seed[2]]} {self.products[seed[0]].title}."


NORM_DEPTH = 200


def normalize(scores: np.ndarray, depth: int = NORM_DEPTH) -> np.ndarray:
    """Put a source's scores on a 0..1 scale over its own top `depth` items (0 below them), so
    compressed cosine scores and sparse co-occurrence scores weigh alike. (Dividing by the max,
    or rank fusion, did worse on the eval's training-side validation; see docs/privacy.md.)"""
    positive = np.count_nonzero(scores > 0)
    if positive == 0:
        return np.zeros_like(scores, dtype=float)
    d = min(depth, positive)
    top_d = np.argpartition(-scores, d - 1)[:d]
    floor = scores[top_d].min() if d == depth else 0.0
    top = scores[top_d].max()
    return np.clip((scores - floor) / ((top - floor) or 1.0), 0.0, None)


def mmr(candidates: list[int], relevance: np.ndarray, vectors: np.ndarray, k: int,
        lam: float = 0.7) -> list[int]:
    """Maximal marginal relevance: each pick trades relevance against similarity to earlier picks."""
    if not candidates:
        return []
    rel = relevance[candidates]
    rel = (rel - rel.min()) / ((rel.max() - rel.min()) or 1.0)
    V = vectors[candidates]
    sims = V @ V.T
    chosen: list[int] = []
    max_sim = np.full(len(candidates), -np.inf)
    available = np.ones(len(candidates), dtype=bool)
    for _ in range(min(k, len(candidates))):
        penalty = np.where(np.isfinite(max_sim), max_sim, 0.0)
        score = np.where(available, lam * rel - (1 - lam) * penalty, -np.inf)
        j = int(score.argmax())
        chosen.append(j)
        available[j] = False
        max_sim = np.maximum(max_sim, sims[j])
    return [candidates[j] for j in chosen]


def as_response(results: list[Result]) -> SearchResponse:
    """Wrap recommendations in a `SearchResponse` for renderers that take one."""
    return SearchResponse(ParsedQuery(original=""), Filters(), results, total=len(results), facets={},
                          mode="recommend")


_recommenders: "weakref.WeakKeyDictionary[SearchEngine, Recommender]" = weakref.WeakKeyDictionary()
_rec_lock = threading.Lock()


def get_recommender(assistant, catalog: str | None = None) -> Recommender:
    """One recommender per loaded catalog, sharing the process's history store."""
    from assistant.history import get_store

    name = catalog or assistant.default_catalog()
    engine = assistant.engine(name)
    with _rec_lock:
        rec = _recommenders.get(engine)
        if rec is None:
            rec = _recommenders[engine] = Recommender(engine, name, get_store(assistant.settings))
        return rec
