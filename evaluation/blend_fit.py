"""Fitting the `hybrid` recommender's blend weights from training sessions (`assistant eval-recs`
refits them per protocol; `LEARNED_BLEND` in assistant/recs/recommend.py was written from it)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from assistant.errors import ShopperError
from assistant.recs.recommend import Blend, CoOccurrence, Popularity, Profile, Recommender


def fit_blend(rec: Recommender, sessions: Sequence[tuple[str, Sequence[int]]], folds: int = 3,
              pool: int = 400, l2: float = 1e-2) -> Blend:
    """Learn `hybrid`'s weights from training sessions (group id, items viewed in order): the last
    item is the target, the others the history. Co-occurrence, popularity and transitions for a
    session are fitted on the *other* folds of groups, so the weights never learn to trust
    statistics that already saw the answer. Candidates: the top `pool` by similarity + agreement."""
    import hashlib

    def fold(group: str) -> int:
        return int(hashlib.sha1(str(group).encode()).hexdigest(), 16) % folds

    n = len(rec.products)
    models = []
    for f in range(folds):
        other = [[(i, "view") for i in items] for g, items in sessions if fold(g) != f]
        models.append((CoOccurrence.fit(other, n), Popularity.fit(rec.engine, other), rec.fit_transitions(other)))
    examples = []
    for group, items in sessions:
        if len(items) < 2:
            continue
        history, target = list(items[:-1]), int(items[-1])
        profile = Profile.from_items([(i, "view") for i in history])
        cooc, pop, transitions = models[fold(group)]
        feats = rec.features(profile, cooc, pop, transitions)
        agree = sum(v for k, v in feats.items() if k.startswith("agree:"))
        base = feats.get("knn", np.zeros(n)) + agree / max(1, len(rec.fields.names))
        base[history] = -np.inf
        size = min(pool, n - len(history) - 1)
        ids = np.argpartition(-base, size)[:size]
        if target not in ids:
            ids = np.append(ids, target)
        examples.append(({k: v[ids] for k, v in feats.items()}, int(np.flatnonzero(ids == target)[0])))
    if not examples:
        raise ShopperError("no training session has two or more items; cannot learn a blend.")
    return Blend.fit(examples, l2)
