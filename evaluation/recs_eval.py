"""`assistant eval-recs`: offline hit-rate@10 / nDCG@10 of each recommender on browsing sessions
built from the judged fashion queries.

A session is a random sample of the products judged *Exact* for one query (a shopper browsing
one intent, e.g. "purple top"); its last item is held out and the others are its history, as
views. Co-occurrence and popularity learn from *training* sessions only. Two protocols:
- `query-disjoint` (the honest one): training sessions come from train-split queries, test
  sessions from dev-split queries, so no test intent was ever seen whole. Products shared by a
  train and a dev query (e.g. "black heels" and "women heels") are the only link — the same
  signal other shoppers would give in a live store.
- `same-queries` (optimistic, reported for contrast): training sessions are other samples of the
  same queries as the test sessions (never the test session itself), like a store where many
  shoppers share each intent. It flatters co-occurrence; read it as an upper bound.

`hybrid` is refitted here from each protocol's training sessions (`fit_blend`), never from test
sessions. Spread: a 95% bootstrap interval that resamples test *queries* (a query's sessions
move together, as they are not independent), for each hit-rate and for its difference from the
kNN baseline on the same sessions; with several `seeds`, also the spread over seeds.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from assistant.errors import ShopperError
from evaluation.search_eval import check_report_path, finish_report, in_split, load_labels
from assistant.recs.recommend import Blend, CoOccurrence, Popularity, Profile, Recommender
from evaluation.blend_fit import fit_blend

SYSTEMS = (  # (label, method, diversity)
    ("popular (cold start)", "popular-cold", 0.0),
    ("popular (by category)", "popular", 0.0),
    ("knn, last item", "knn-last", 0.0),
    ("knn (baseline)", "knn", 0.0),
    ("cooc", "cooc", 0.0),
    ("fixed blend (knn+cooc+popular)", "fixed-blend", 0.0),
    ("hybrid (learned blend)", "hybrid", 0.0),
    ("hybrid + MMR 0.3", "hybrid", 0.3),
)
BASELINE = "knn (baseline)"


@dataclass
class Row:
    system: str
    hit_rate: float
    ndcg: float
    diversity: float  # mean pairwise cosine distance inside a top-10 list
    n: int
    hit_ci: tuple[float, float] = (0.0, 0.0)  # 95% bootstrap over test queries
    delta: float = 0.0  # hit-rate minus the kNN baseline's, on the same sessions
    delta_ci: tuple[float, float] = (0.0, 0.0)
    seed_hits: list[float] = field(default_factory=list)  # hit-rate per seed

    @property
    def seed_sd(self) -> float:
        return float(np.std(self.seed_hits, ddof=1)) if len(self.seed_hits) > 1 else 0.0


@dataclass
class RecsReport:
    catalog: str
    k: int
    protocols: dict[str, list[Row]] = field(default_factory=dict)
    sessions: dict[str, dict[str, int]] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0

    def table(self) -> str:
        lines = []
        for protocol, rows in self.protocols.items():
            s = self.sessions[protocol]
            seeds = len(rows[0].seed_hits) if rows else 1
            lines.append(f"{protocol}: {s['test']} test sessions, {s['train']} training sessions"
                         + (f" (pooled over {seeds} seeds)" if seeds > 1 else ""))
            sd = " | seed sd" if seeds > 1 else ""
            lines.append(f"| recommender | hit-rate@{self.k} [95% CI] | nDCG@{self.k} | Δhit vs kNN [95% CI]"
                         f"{sd} | diversity@{self.k} |")
            lines.append("|---|---|---|---|" + ("---|" if seeds > 1 else "") + "---|")
            for r in rows:
                delta = "—" if r.system == BASELINE else \
                    f"{r.delta:+.3f} [{r.delta_ci[0]:+.3f}, {r.delta_ci[1]:+.3f}]"
                lines.append(f"| {r.system} | {r.hit_rate:.3f} [{r.hit_ci[0]:.3f}, {r.hit_ci[1]:.3f}] | {r.ndcg:.3f} "
                             f"| {delta}" + (f" | {r.seed_sd:.3f}" if seeds > 1 else "") + f" | {r.diversity:.3f} |")
            lines.append("")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"catalog": self.catalog, "k": self.k, "seconds": round(self.seconds, 1),
                "settings": self.settings, "sessions": self.sessions,
                "protocols": {p: [{**asdict(r), "seed_sd": r.seed_sd} for r in rows]
                              for p, rows in self.protocols.items()}}


def sample_sessions(groups: dict[str, list[int]], per_group: int, length: int,
                    seed: int) -> list[tuple[str, list[int]]]:
    """`per_group` random ordered samples of up to `length` items from each group (>= 3 items)."""
    out = []
    for gid in sorted(groups):
        items = groups[gid]
        if len(items) < 3:
            continue
        rng = random.Random(f"{seed}:{gid}")
        for _ in range(per_group):
            out.append((gid, rng.sample(items, min(length, len(items)))))
    return out


def metrics_at_k(ranked: list[int], target: int, k: int) -> tuple[float, float]:
    """Hit and nDCG for one held-out item (one relevant item: ideal DCG is 1)."""
    top = ranked[:k]
    if target not in top:
        return 0.0, 0.0
    return 1.0, 1.0 / math.log2(top.index(target) + 2)


def intra_list_diversity(ranked: list[int], vectors: np.ndarray) -> float:
    if len(ranked) < 2:
        return 0.0
    V = vectors[ranked]
    sims = V @ V.T
    n = len(ranked)
    return float(1 - (sims.sum() - np.trace(sims)) / (n * (n - 1)))


def fit_subset(train: list[tuple[str, list[int]]], per_group: int) -> list[tuple[str, list[int]]]:
    """The first `per_group` training sessions of each group: enough to fit a dozen weights."""
    taken: dict[str, int] = {}
    out = []
    for gid, items in train:
        if taken.get(gid, 0) < per_group:
            taken[gid] = taken.get(gid, 0) + 1
            out.append((gid, items))
    return out


@dataclass
class Scores:
    """Per-session hit / gain / diversity of every system on one test set, plus the learnt blend."""

    groups: list[str]
    hits: dict[str, np.ndarray]
    gains: dict[str, np.ndarray]
    divs: dict[str, np.ndarray]
    blend: Blend


def score_sessions(rec: Recommender, train: list[tuple[str, list[int]]], test: list[tuple[str, list[int]]],
                   k: int = 10, fit_per_group: int = 10) -> Scores:
    """Score every system on `test`, with every model (co-occurrence, popularity, category
    transitions, the blend's weights) learnt from `train` only."""
    n = len(rec.products)
    train_items = [[(i, "view") for i in items] for _, items in train]
    cooc = CoOccurrence.fit(train_items, n)
    pop = Popularity.fit(rec.engine, train_items)
    transitions = rec.fit_transitions(train_items)
    blend = fit_blend(rec, fit_subset(train, fit_per_group))
    hits: dict[str, np.ndarray] = {}
    gains: dict[str, np.ndarray] = {}
    divs: dict[str, np.ndarray] = {}
    for label, method, diversity in SYSTEMS:
        h, g, d = [], [], []
        for _, items in test:
            history, target = items[:-1], items[-1]
            profile = Profile.from_items([(i, "view") for i in history])
            if method == "popular-cold":  # what a new shopper sees; their history is only excluded
                ranked = rec.rank(Profile(seen=set(history)), k, "popular", 0.0, cooc, pop, explain=False)
            else:
                ranked = rec.rank(profile, k, method, diversity, cooc, pop, explain=False, blend=blend,
                                  transitions=transitions)
            ids = [i for i, _, _ in ranked]
            hit, gain = metrics_at_k(ids, target, k)
            h.append(hit)
            g.append(gain)
            d.append(intra_list_diversity(ids, rec.vectors))
        hits[label], gains[label], divs[label] = np.array(h), np.array(g), np.array(d)
    return Scores([gid for gid, _ in test], hits, gains, divs, blend)


def bootstrap_ci(values: np.ndarray, groups: list[str], rounds: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% interval of the mean of `values`, resampling whole groups (test queries) with replacement."""
    keys = sorted(set(groups))
    index = {g: j for j, g in enumerate(keys)}
    cols = np.array([index[g] for g in groups])
    sums = np.bincount(cols, weights=values, minlength=len(keys))
    counts = np.bincount(cols, minlength=len(keys)).astype(float)
    draws = np.random.default_rng(seed).multinomial(len(keys), np.full(len(keys), 1 / len(keys)), size=rounds)
    means = (draws @ sums) / (draws @ counts)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


def summarize(runs: list[Scores]) -> list[Row]:
    """One row per system over all runs (seeds) pooled; intervals resample test queries."""
    groups = [g for run in runs for g in run.groups]
    base = np.concatenate([run.hits[BASELINE] for run in runs])
    rows = []
    for label, _, _ in SYSTEMS:
        hits = np.concatenate([run.hits[label] for run in runs])
        rows.append(Row(label, float(hits.mean()), float(np.concatenate([r.gains[label] for r in runs]).mean()),
                        float(np.concatenate([r.divs[label] for r in runs]).mean()), len(hits),
                        bootstrap_ci(hits, groups), float(hits.mean() - base.mean()),
                        bootstrap_ci(hits - base, groups), [float(r.hits[label].mean()) for r in runs]))
    return rows


def evaluate(rec: Recommender, train: list[tuple[str, list[int]]], test: list[tuple[str, list[int]]],
             k: int = 10) -> list[Row]:
    """Score every system on `test`, with models learnt from `train` only."""
    return summarize([score_sessions(rec, train, test, k)])


def run_recs_eval(rec: Recommender, labels_path: str | Path, k: int = 10, length: int = 6,
                  test_per_query: int = 10, train_per_query: int = 40, seed: int = 13,
                  protocols: tuple[str, ...] = ("query-disjoint", "same-queries"),
                  seeds: tuple[int, ...] | None = None, fit_per_query: int = 10) -> RecsReport:
    """Build sessions from the judged queries and evaluate each protocol (once per seed)."""
    started = time.time()
    seeds = tuple(seeds) if seeds else (seed,)
    labels = load_labels(labels_path)
    groups: dict[str, list[int]] = {}
    for qid, judged in labels.items():
        items = sorted(rec.position[p] for p, gain in judged.items() if gain >= 2 and p in rec.position)
        if items:
            groups[qid] = items
    if not groups:
        raise ShopperError(f"no judged products of {labels_path} are in the '{rec.catalog}' catalog.")
    report = RecsReport(rec.catalog, k, settings={
        "session_length": length, "test_sessions_per_query": test_per_query,
        "train_sessions_per_query": train_per_query, "blend_fit_sessions_per_query": fit_per_query,
        "seeds": list(seeds), "fixed_blend": dict(_blend()), "learned_blend": {}})
    for protocol in protocols:
        runs = []
        for s in seeds:
            if protocol == "query-disjoint":
                train = sample_sessions({q: v for q, v in groups.items() if in_split(q, "train")},
                                        train_per_query, length, s)
                test = sample_sessions({q: v for q, v in groups.items() if in_split(q, "dev")},
                                       test_per_query, length, s + 1)
            elif protocol == "same-queries":
                test = sample_sessions({q: v for q, v in groups.items() if in_split(q, "dev")},
                                       test_per_query, length, s + 1)
                # other samples of the same queries (a different seed), never the test sessions
                train = sample_sessions(groups, train_per_query, length, s + 2)
                test_keys = {(q, tuple(items)) for q, items in test}
                train = [(q, items) for q, items in train if (q, tuple(items)) not in test_keys]
            else:
                raise ShopperError(f"Unknown protocol '{protocol}'. Use query-disjoint or same-queries.")
            runs.append(score_sessions(rec, train, test, k, fit_per_query))
            report.settings["learned_blend"].setdefault(protocol, {})[str(s)] = runs[-1].blend.weights
        report.protocols[protocol] = summarize(runs)
        report.sessions[protocol] = {"train": len(train), "test": sum(len(r.groups) for r in runs)}
    report.seconds = time.time() - started
    return report


def _seeds(text: str | None) -> tuple[int, ...]:
    """`--seeds 13,14,15` → (13, 14, 15); each seed samples its own train and test sessions."""
    if not text:
        return (13,)
    try:
        seeds = tuple(int(part) for part in str(text).split(",") if part.strip())
    except ValueError:
        raise ShopperError(f"--seeds takes whole numbers separated by commas, e.g. 13,14,15 (got '{text}').") from None
    if not seeds or len(seeds) > 20:
        raise ShopperError("--seeds takes between 1 and 20 numbers, e.g. 13,14,15.")
    return seeds


def _blend():
    from assistant.recs.recommend import BLEND
    return BLEND


def cmd_eval_recs(args, settings) -> int:
    """`assistant eval-recs [--catalog fashion] [--json OUT]`."""
    import json
    import sys

    from assistant.core import Assistant
    from assistant.recs.recommend import Recommender

    labels = args.labels or settings.data_dir / "fashion-queries" / "label.csv"
    check_report_path(args.json)
    if args.sessions_per_query < 1:
        raise ShopperError("--sessions-per-query must be at least 1.")
    seeds = _seeds(getattr(args, "seeds", None))  # fail fast, before loading models
    assistant = Assistant(settings, progress=True)
    catalog = settings.resolve_catalog(args.catalog)
    rec = Recommender(assistant.engine(catalog), catalog)  # no store: learns from eval sessions only
    report = run_recs_eval(rec, labels, test_per_query=args.sessions_per_query,
                           train_per_query=4 * args.sessions_per_query, seeds=seeds)
    notes = []
    learned = report.settings["learned_blend"].get("query-disjoint", {})
    if learned:
        seed, weights = next(iter(learned.items()))
        notes = [f"hybrid weights learnt from query-disjoint training sessions (seed {seed}):",
                 "  " + ", ".join(f"{k} {v:+.3g}" for k, v in sorted(weights.items(), key=lambda kv: -abs(kv[1])))]
    return finish_report(report, f"catalog {catalog}, model {settings.text_model}; baseline: {BASELINE}",
                         args.json, notes)
