"""Recommendations from shopper history, returned as search `Result`s so cards render the same.

Sources, each a pure function of item indices (so the offline eval calls the very same code):
- `knn`: more like what the shopper viewed (cosine over the catalog's own embeddings; the baseline);
- `cooc`: viewed/bought together by other shoppers (item-item co-occurrence, cosine-normalised);
- `popular`: popularity and rating by category, for cold start;
- `hybrid` (default): a *learned* blend (`Blend`, a conditional logit fitted on training sessions;
  weights are plain numbers in `LEARNED_BLEND`) over per-item features: similarity to the seeds
  (mean and max cosine), agreement with the session's attribute profile (category, colour, gender,
  occasion, brand, …: the recency-weighted share of seeds with the item's value, and whether all
  seeds share it), category→category transitions, co-occurrence and popularity; then MMR;
- `fixed-blend`: the earlier hand-set blend of knn, cooc and popular (kept for the eval table).
Purchased and already-seen items are never recommended.
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
from assistant.recs.history import HistoryStore
from assistant.retrieval.search import Filters, Result, SearchEngine, SearchResponse
from assistant.language.understand import ParsedQuery

log = logging.getLogger(__name__)

METHODS = ("hybrid", "knn", "knn-last", "cooc", "popular", "fixed-blend")
KIND_WEIGHT = {"view": 1.0, "click": 2.0, "add_to_cart": 3.0, "purchase": 4.0}
VERB = {"view": "viewed", "click": "opened", "add_to_cart": "added to your cart", "purchase": "bought"}
RECENCY_DECAY = 0.85  # each older distinct item counts this much less than the next newer one
MAX_SEEDS = 20
# `fixed-blend`: chosen on train-query validation, never the test side
BLEND = {"knn": 1.0, "cooc": 1.0, "popular": 0.1}


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

    def __init__(self, matrix: sparse.csr_matrix, bought: sparse.csr_matrix | None = None,
                 support: sparse.csr_matrix | None = None) -> None:
        self.matrix = matrix
        self.bought = bought
        self.support = support  # how many sessions hold both items

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
        seen = (S > 0).astype(np.float32)
        support = (seen.T @ seen).tocsr()
        B = None
        if brows:
            Bs = sparse.csr_matrix((np.ones(len(brows), np.float32), (brows, bcols)), shape=shape)
            B = (Bs.T @ Bs).tocsr()
        return cls(C.tocsr(), B, support)

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


def item_fields(product) -> dict[str, str]:
    """The labels a session profile compares: category levels, colour, gender, occasion, brand,
    material and free-form attributes (`attr:season`, …). Missing values are left out."""
    out: dict[str, str] = {}
    path = [c for c in product.category if c]
    if path:
        out["category"] = path[-1]
        if len(path) >= 2:
            out["category_parent"] = path[-2]
        if len(path) >= 3:
            out["category_root"] = path[0]
    if product.colors:
        out["color"] = product.colors[0]
    for name in ("gender", "occasion", "brand", "material"):
        value = getattr(product, name, "")
        if value:
            out[name] = value
    for key, value in product.attributes.items():
        if value not in ("", None):
            out[f"attr:{key}"] = str(value)
    return out


class FieldCodes:
    """Every product's value per field as an integer code (-1 = none), so a session's attribute
    profile is a few `bincount`s over the catalog rather than a loop over products. Free-form
    attributes count only when they are labels (on >= 5% of products, few distinct values), not
    ids or measurements."""

    def __init__(self, products: Sequence) -> None:
        rows = [item_fields(p) for p in products]
        self.codes: dict[str, np.ndarray] = {}
        self.values: dict[str, list[str]] = {}
        for name in sorted({k for r in rows for k in r}):
            vocab: dict[str, int] = {}
            codes = np.array([vocab.setdefault(r[name], len(vocab)) if name in r else -1 for r in rows],
                             dtype=np.int64)
            known = int((codes >= 0).sum())
            if name.startswith("attr:") and (known < 0.05 * len(rows) or len(vocab) > max(50, known // 10)):
                continue
            self.codes[name], self.values[name] = codes, list(vocab)
        self.names = sorted(self.codes)

    def agreement(self, seeds: np.ndarray, w: np.ndarray,
                  names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """Per field: the weighted share of seeds whose value equals each item's value (0..1)."""
        out = {}
        for name in self.names if names is None else [n for n in self.names if n in set(names)]:
            codes = self.codes[name]
            codes_of_seeds = codes[seeds]
            known = codes_of_seeds >= 0
            if not known.any():
                continue
            share = np.bincount(codes_of_seeds[known], weights=w[known], minlength=len(self.values[name]))
            out[name] = np.where(codes >= 0, share[np.maximum(codes, 0)], 0.0) / w.sum()
        return out


class CategoryTransitions:
    """P(category of another item in the session | category of a seed), from training sessions.
    Unlike item co-occurrence it carries over to products and intents never seen together."""

    def __init__(self, matrix: sparse.csr_matrix, codes: np.ndarray) -> None:
        self.matrix, self.codes = matrix, codes

    @classmethod
    def fit(cls, sessions: Iterable[Sequence[tuple[int, str]]], codes: np.ndarray,
            max_len: int = 50) -> "CategoryTransitions":
        n = int(codes.max()) + 1 if len(codes) else 0
        rows: list[int] = []
        cols: list[int] = []
        for items in sessions:
            cats = codes[[i for i, _ in list(items)[-max_len:]]]
            cats = cats[cats >= 0]
            for j, a in enumerate(cats):  # every ordered pair of distinct positions
                others = np.delete(cats, j)
                rows += [int(a)] * len(others)
                cols += others.tolist()
        counts = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n, n))
        totals = np.asarray(counts.sum(axis=1)).ravel()
        return cls(sparse.diags(1 / np.maximum(totals, 1)) @ counts, codes)

    def scores(self, seeds: np.ndarray, w: np.ndarray) -> np.ndarray:
        seed_codes = self.codes[seeds]
        known = seed_codes >= 0
        if not known.any():
            return np.zeros(len(self.codes))
        by_cat = np.asarray(self.matrix[seed_codes[known]].T @ w[known]).ravel() / w.sum()
        return np.where(self.codes >= 0, by_cat[np.maximum(self.codes, 0)], 0.0)


# Weights of the `hybrid` recommender: `fit_blend` on the fashion eval's query-disjoint *training*
# sessions (train-split queries only, seed 13; `assistant eval-recs` refits and prints them).
# Features not listed (e.g. a field only another catalog has) weigh 0. Agreeing with every viewed
# item on colour and category counts most; season/occasion/brand agreement barely matters.
# Used only for the catalog it was fitted on (`LEARNED_BLEND_FITTED_ON`, see `blend_for`).
LEARNED_BLEND: dict[str, float] = {
    "agree:attr:season": -0.1811, "agree:attr:year": -0.1291, "agree:brand": 0.3248, "agree:category": 1.6968,
    "agree:category_parent": 0.9917, "agree:category_root": 0.6629, "agree:color": 1.3019,
    "agree:gender": 1.1669, "agree:occasion": -0.4281, "all:attr:season": -0.004, "all:attr:year": 0.0163,
    "all:brand": -0.7015, "all:category": 2.3807, "all:category_parent": 0.9888, "all:category_root": 0.6629,
    "all:color": 4.9579, "all:gender": 0.4054, "all:occasion": 0.4766, "cooc": 1.6326, "knn": 0.1938,
    "max_cos": -0.2813, "popular": -0.2356, "transition": 1.5548,
}


LEARNED_BLEND_FITTED_ON = {"catalog": "fashion", "source_kind": "fashion"}
# Any other catalog: its shoppers, labels and sessions were never fitted, so no label is preferred
# over another (fashion's colour and gender weights would be a guess elsewhere). Unit weight on
# what every catalog has: similarity to the viewed items, same category, category transitions and
# co-occurrence; popularity only breaks ties. Not fitted; refit per catalog with `eval-recs`.
NEUTRAL_BLEND: dict[str, float] = {"knn": 1.0, "agree:category": 1.0, "transition": 1.0, "cooc": 1.0,
                                   "popular": 0.1}


def blend_for(catalog: str, manifest: dict) -> "Blend":
    """`LEARNED_BLEND` for the catalog it was fitted on (by name and source kind, or a synced
    export of it); `NEUTRAL_BLEND` for every other catalog."""
    fitted = LEARNED_BLEND_FITTED_ON
    same = catalog == fitted["catalog"] and (manifest.get("source_kind") == fitted["source_kind"]
                                             or bool(manifest.get("sync")))
    return Blend(dict(LEARNED_BLEND if same else NEUTRAL_BLEND))


@dataclass
class Blend:
    """A linear score over named features: the learned part of `hybrid`."""

    weights: dict[str, float]

    def score(self, features: dict[str, np.ndarray], n: int) -> np.ndarray:
        total = np.zeros(n)
        for name, values in features.items():
            total += self.weights.get(name, 0.0) * values
        return total

    @classmethod
    def fit(cls, examples: Sequence[tuple[dict[str, np.ndarray], int]], l2: float = 1e-2) -> "Blend":
        """Conditional logit: for each example (features over a candidate pool, index of the item
        the shopper went on to view) maximise the softmax probability of that item against the
        rest of its pool, with an L2 penalty on standardised features. Weights come back on the
        raw feature scale, so scoring needs no scaler."""
        from scipy.optimize import minimize

        names = sorted({k for f, _ in examples for k in f})
        X = np.vstack([np.stack([f.get(k, np.zeros(len(next(iter(f.values()))))) for k in names], axis=1)
                       for f, _ in examples])
        sizes = np.array([len(next(iter(f.values()))) for f, _ in examples])
        starts = np.r_[0, np.cumsum(sizes)[:-1]]
        targets = starts + np.array([t for _, t in examples])
        scale = X.std(axis=0)
        scale[scale < 1e-9] = 1.0
        Xs = X / scale

        def loss(b: np.ndarray) -> tuple[float, np.ndarray]:
            s = Xs @ b
            top = np.maximum.reduceat(s, starts)
            e = np.exp(s - np.repeat(top, sizes))
            z = np.add.reduceat(e, starts)
            p = e / np.repeat(z, sizes)
            value = -(s[targets].sum() - (top + np.log(z)).sum()) / len(sizes) + l2 * b @ b
            grad = -(Xs[targets].sum(axis=0) - p @ Xs) / len(sizes) + 2 * l2 * b
            return value, grad

        b = minimize(loss, np.zeros(len(names)), jac=True, method="L-BFGS-B").x / scale
        return cls({k: round(float(v), 4) for k, v in zip(names, b)})


def item_vectors(engine: SearchEngine) -> np.ndarray:
    """The catalog's own product embeddings (L2-normalised), as the index stored them."""
    return np.ascontiguousarray(engine.index.vectors, dtype=np.float32)


class Recommender:
    """Recommendations over one loaded catalog; history comes from a `HistoryStore` (optional)."""

    def __init__(self, engine: SearchEngine, catalog: str, store: HistoryStore | None = None) -> None:
        self.engine, self.catalog, self.store = engine, catalog, store
        self.products = engine.products
        self.vectors = item_vectors(engine)
        self.position = {p.id: i for i, p in enumerate(self.products)}
        self.cooc: CoOccurrence | None = None
        self.popularity = Popularity.fit(engine, [])
        self.fields = FieldCodes(self.products)
        self.transitions: CategoryTransitions | None = None
        self.blend = blend_for(catalog, engine.index.manifest)
        self._version: object = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ models from the store
    def refresh(self, max_age_s: float = 30.0) -> None:
        """(Re)build co-occurrence and popularity from all shoppers' events when they changed."""
        if self.store is None:
            return
        with self._lock:
            version = self.store.version()
            if version == self._version or time.time() - getattr(self, "_built", 0) < max_age_s:
                return  # shared models lag by <= max_age_s; refitting per event costs O(all events)
            sessions = [[(self.position[p], k) for k, p in items if p in self.position]
                        for _, items in self.store.sessions(self.catalog)]
            self.cooc = CoOccurrence.fit(sessions, len(self.products)) if sessions else None
            self.popularity = Popularity.fit(self.engine, sessions)
            self.transitions = self.fit_transitions(sessions) if sessions else None
            self._version, self._built = version, time.time()

    def profile(self, shopper: str) -> Profile:
        if self.store is None:
            return Profile()
        events = self.store.events(shopper, self.catalog, kinds=KIND_WEIGHT, limit=500)
        items = [(self.position[e.product_id], e.kind) for e in reversed(events) if e.product_id in self.position]
        return Profile.from_items(items)

    def fit_transitions(self, sessions: Sequence[Sequence[tuple[int, str]]]) -> CategoryTransitions | None:
        codes = self.fields.codes.get("category")
        return None if codes is None else CategoryTransitions.fit(sessions, codes)

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
        scores = self.vectors @ (w @ self.vectors[ids] / w.sum())  # weighted mean cosine, one mat-vec

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

    def features(self, profile: Profile, cooc: CoOccurrence | None = None, popularity: Popularity | None = None,
                 transitions: CategoryTransitions | None = None,
                 blend: Blend | None = None) -> dict[str, np.ndarray]:
        """The blend's per-item features (each an array over the catalog; with `blend`, only the
        fields it weighs). Content features use the viewed (not bought) seeds, like `knn`;
        transitions use every seed: a bought sofa should lead to lamps, not to more sofas."""
        feats: dict[str, np.ndarray] = {}
        content = [s for s in profile.seeds if s[2] != "purchase"]
        if content:
            ids = np.array([s[0] for s in content])
            w = np.array([s[1] for s in content], dtype=np.float64)
            sims = self.vectors[ids] @ self.vectors.T
            feats["knn"] = (w @ sims) / w.sum()
            feats["max_cos"] = sims.max(axis=0)
            names = None if blend is None else {k.split(":", 1)[1] for k in blend.weights
                                                 if k.startswith(("agree:", "all:"))}
            for name, share in self.fields.agreement(ids, w, names).items():
                feats[f"agree:{name}"] = share
                if len(ids) >= 2:  # every seed agrees: one seed alone says little about intent
                    feats[f"all:{name}"] = (share > 1 - 1e-6).astype(np.float64)
        transitions = transitions or self.transitions
        if transitions is not None and profile.seeds:
            ids = np.array([s[0] for s in profile.seeds])
            feats["transition"] = transitions.scores(ids, np.array([s[1] for s in profile.seeds]))
        if (cooc or self.cooc) is not None:  # absolute scale: six shoppers' evidence outweighs one's
            feats["cooc"] = self.co_occurrence(profile, cooc).scores / sum(s[1] for s in profile.seeds)
        pop = popularity or self.popularity
        if pop.scores.any():
            feats["popular"] = pop.scores
        return feats

    def _evidence_slot(self, profile: Profile, chosen: list[int], k: int, total: np.ndarray,
                       cooc: CoOccurrence | None) -> int | None:
        """Clear "viewed/bought together" evidence (several other sessions, high cosine) earns the
        strongest such item a place in the top `EVIDENCE_SLOT['position']`, even when it is a
        different kind of item from the seeds' (a sofa's cushions): the learned blend, trained on
        single-intent sessions, would otherwise rank every similar item above it. Returns that
        item when it is not already there, else None."""
        cooc = cooc or self.cooc
        if cooc is None or cooc.support is None or not profile.seeds or k < 1:
            return None
        ids = [s[0] for s in profile.seeds]
        w = np.array([s[1] for s in profile.seeds])
        strength = np.asarray(cooc.matrix[ids].T @ w).ravel() / w.sum()
        shoppers = np.asarray(cooc.support[ids].max(axis=0).todense()).ravel()
        ok = ((strength >= EVIDENCE_SLOT["min_cosine"]) & (shoppers >= EVIDENCE_SLOT["min_sessions"])
              & np.isfinite(total))
        if not ok.any():
            return None
        best = int(np.flatnonzero(ok)[strength[ok].argmax()])
        return None if best in chosen[: min(EVIDENCE_SLOT["position"], k)] else best

    def _explain_blend(self, profile: Profile, feats: dict[str, np.ndarray], blend: Blend,
                       cooc: CoOccurrence | None, popularity: Popularity | None) -> Callable[[int], str]:
        """Why a blended item: the part of the score that contributes most (the seed it resembles,
        with the labels they share; a category transition; co-occurrence; popularity)."""
        def part(item: int, prefix: tuple[str, ...]) -> float:
            return sum(blend.weights.get(k, 0.0) * v[item] for k, v in feats.items() if k.startswith(prefix))

        def explain(item: int) -> str:
            parts = {"content": part(item, ("knn", "max_cos", "agree:", "all:")),
                     "transition": part(item, ("transition",)), "cooc": part(item, ("cooc",)),
                     "popular": part(item, ("popular",))}
            best = max(parts, key=parts.get)
            if best == "cooc":
                return self.co_occurrence(profile, cooc).explain(item)
            if best == "popular":
                return (popularity or self.popularity).reason(item)
            return self._because_alike(profile, item, blend, transition=best == "transition")
        return explain

    def _because_alike(self, profile: Profile, item: int, blend: Blend, transition: bool) -> str:
        seeds = [s for s in profile.seeds if s[2] != "purchase"] or profile.seeds
        if transition:
            cat = self.fields.codes.get("category")
            seed = seeds[0] if cat is None else max(
                seeds, key=lambda s: s[1] * float(self.transitions.matrix[cat[s[0]], cat[item]])
                if self.transitions is not None and cat[s[0]] >= 0 and cat[item] >= 0 else 0.0)
            return (f"Because you {VERB[seed[2]]} {self.products[seed[0]].title}: shoppers who look at "
                    f"{self.products[seed[0]].leaf_category} often look at {self.products[item].leaf_category}.")

        # fields the blend rewards agreeing on, strongest first (computed once, not per seed)
        weight = {n: blend.weights.get(f"agree:{n}", 0.0) + blend.weights.get(f"all:{n}", 0.0)
                  for n in self.fields.names}
        rewarded = sorted((n for n in self.fields.names if weight[n] > 0), key=lambda n: -weight[n])

        def shared(seed: int) -> list[str]:
            return [n for n in rewarded if self.fields.codes[n][seed] >= 0
                    and self.fields.codes[n][seed] == self.fields.codes[n][item]]

        def strength(s: tuple[int, float, str]) -> float:
            return s[1] * (float(self.vectors[s[0]] @ self.vectors[item]) + 0.5 * len(shared(s[0])))
        seed = max(seeds, key=strength)
        values = []
        for name in shared(seed[0])[:3]:
            value = self.fields.values[name][self.fields.codes[name][item]]
            if value not in values:
                values.append(value)
        also = f" (also {', '.join(values)})" if values else ""
        return f"Because you {VERB[seed[2]]} {self.products[seed[0]].title}{also}."

    # ------------------------------------------------------------------ ranking
    def rank(self, profile: Profile, k: int = 10, method: str = "hybrid", diversity: float = 0.3,
             cooc: CoOccurrence | None = None, popularity: Popularity | None = None,
             exclude: Iterable[int] = (), explain: bool = True, blend: Blend | None = None,
             transitions: CategoryTransitions | None = None,
             allowed: np.ndarray | None = None) -> list[tuple[int, float, str]]:
        """Top-k (item, score, why). Never returns purchased or already-seen items, nor any item
        outside `allowed` (a mask over the catalog: the shopper's active filters)."""
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
        elif method == "hybrid":
            blend = blend or self.blend
            feats = self.features(profile, cooc, popularity, transitions, blend)
            scores = blend.score(feats, len(self.products))
            if np.ptp(scores) == 0:  # nothing to go on (e.g. only purchases, no other shoppers yet)
                return self.rank(profile, k, "popular", diversity, cooc, popularity, exclude, explain,
                                 allowed=allowed)
            parts = {"blend": Scored(scores - scores.min() + 1.0,  # > 0 everywhere, order unchanged
                                     self._explain_blend(profile, feats, blend, cooc, popularity) if explain
                                     else Scored(scores).explain)}
        else:
            parts = {"knn": self.knn(profile), "cooc": self.co_occurrence(profile, cooc),
                     "popular": self.popular(profile, popularity)}
        total = np.zeros(len(self.products))
        normed = {}
        for name, part in parts.items():
            normed[name] = part.scores if name == "blend" else normalize(part.scores)
            total += BLEND.get(name, 1.0) * normed[name]
        banned = np.array(sorted(set(profile.seen) | set(profile.bought) | set(exclude)), dtype=np.int64)
        total[banned] = -np.inf
        if allowed is not None:
            total[~allowed] = -np.inf
        candidates = [int(i) for i in np.argsort(-total)[: max(100, 5 * k)] if total[i] > 0]
        if method in ("hybrid", "fixed-blend") and diversity > 0:
            chosen = mmr(candidates, total, self.vectors, k, 1 - diversity)
        else:
            chosen = candidates[:k]
        slotted = self._evidence_slot(profile, chosen, k, total, cooc) if method == "hybrid" else None
        if slotted is not None:
            position = min(EVIDENCE_SLOT["position"], k) - 1
            rest = [i for i in chosen if i != slotted]
            chosen = (rest[:position] + [slotted] + rest[position:])[:k]
        out = []
        for i in chosen:
            source = max(parts, key=lambda name: BLEND.get(name, 1.0) * normed[name][i])
            why = "" if not explain else (self.co_occurrence(profile, cooc).explain(i) if i == slotted
                                          else parts[source].explain(i))
            out.append((i, float(total[i]), why))
        return out

    def recommend(self, shopper: str, k: int = 10, method: str = "hybrid",
                  diversity: float = 0.3, filters: Filters | None = None) -> list[Result]:
        """Recommendations for a shopper, as search results (cards render them the same).

        `filters`: the shopper's active search filters (chips). Recommendations meet all of them;
        when none does, they still meet the price bounds and exclusions ("under $800", "not
        leather": what the shopper ruled out is never recommended), other facets relaxed."""
        self.refresh()
        profile = self.profile(shopper)
        ranked: list[tuple[int, float, str]] = []
        for allowed in self._allowed(filters):
            ranked = self.rank(profile, k, method, diversity, allowed=allowed)
            if ranked:
                break
        return [Result(product=self.products[i], score=score, rank=r, why=why,
                       dense_score=float(self._seed_similarity(profile, i)) if profile.seeds else None)
                for r, (i, score, why) in enumerate(ranked, start=1)]

    def _allowed(self, filters: Filters | None) -> list[np.ndarray | None]:
        """Masks to recommend within, strictest first: every filter, then price and exclusions."""
        if filters is None or filters.is_empty():
            return [None]
        policy = self.engine.policy
        firm = Filters(price_min=filters.price_min, price_max=filters.price_max, exclude=list(filters.exclude))
        return [policy.mask(filters)] + ([policy.mask(firm)] if firm != filters else [])

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
EVIDENCE_SLOT = {"min_cosine": 0.5, "min_sessions": 3, "position": 3}  # see Recommender._evidence_slot


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
    from assistant.recs.history import get_store

    name = catalog or assistant.default_catalog()
    engine = assistant.engine(name)
    with _rec_lock:
        rec = _recommenders.get(engine)
        if rec is None:
            rec = _recommenders[engine] = Recommender(engine, name, get_store(assistant.settings))
        return rec
