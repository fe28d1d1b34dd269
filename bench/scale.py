"""Scale benchmark for the vector backends: synthetic clustered 384-d catalogs with filter fields.

Per size and index family: build time, index memory, p50/p95 single-query latency without and
with a filter (category + price range, ~1% of the catalog passes), recall@10 against exact
search (same filter), and the latency growth exponent between consecutive sizes
(latency ~ n^b; b << 1 means query time grows far slower than the catalog).

Usage: .venv/bin/python bench/scale.py --sizes 100000,1000000 [--families flat,hnsw,ivf_sq8,ivf_pq]
                                       [--queries 200] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.vector_backends import FaissBackend  # noqa: E402

DIM = 384
FIELDS = {"category": "str", "colour": "str", "price": "float"}
BUILD_THREADS = faiss.omp_get_max_threads()


def synthetic_catalog(n: int, seed: int = 0, clusters: int = 1000):
    """Normalised vectors around `clusters` centres; category follows the cluster (as product
    types do), colour is Zipf-skewed over 20 values, price is log-normal per category."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    which = rng.integers(0, clusters, n)
    vectors = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        part = slice(start, min(n, start + 100_000))
        noise = rng.standard_normal((part.stop - part.start, DIM)).astype(np.float32) * 0.06
        v = centres[which[part]] + noise
        vectors[part] = v / np.linalg.norm(v, axis=1, keepdims=True)
    category = which % 50
    flip = rng.random(n) < 0.1
    category[flip] = rng.integers(0, 50, flip.sum())
    colour_p = 1 / np.arange(1, 21)
    colour = rng.choice(20, n, p=colour_p / colour_p.sum())
    base = np.exp(rng.normal(3.5, 0.8, 50))
    price = np.round(base[category] * np.exp(rng.normal(0, 0.5, n)), 2)
    fields = {"category": np.array([f"cat{c}" for c in category], dtype=object),
              "colour": np.array([f"col{c}" for c in colour], dtype=object), "price": price}
    return vectors, fields, centres


def queries(centres: np.ndarray, fields: dict, count: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    q = centres[rng.integers(0, len(centres), count)] + rng.standard_normal((count, DIM)).astype(np.float32) * 0.08
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    filters = []
    for i in range(count):
        cat = f"cat{rng.integers(0, 50)}"
        prices = fields["price"][fields["category"] == cat]
        filters.append({"category": [cat], "price": {"max": float(np.median(prices))}})
    return q.astype(np.float32), filters


def exact_topk(vectors: np.ndarray, q: np.ndarray, k: int, mask: np.ndarray | None = None) -> list[set]:
    out = []
    rows = np.arange(len(vectors)) if mask is None else None
    for i, qi in enumerate(q):
        if mask is None:
            scores = vectors @ qi
            top = np.argpartition(-scores, k)[:k]
            out.append(set(rows[top].tolist()))
        else:
            sel = np.flatnonzero(mask[i])
            scores = vectors[sel] @ qi
            top = sel[np.argsort(-scores)[:k]]
            out.append(set(top.tolist()))
    return out


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def bench_family(family: str, vectors, fields, q, filters, truth, truth_f, k: int = 10) -> dict:
    n = len(vectors)
    backend = FaissBackend(DIM, FIELDS, family=family)
    t0 = time.perf_counter()
    rows = [{"category": fields["category"][i], "colour": fields["colour"][i], "price": fields["price"][i]}
            for i in range(n)]
    t_meta = time.perf_counter() - t0
    t0 = time.perf_counter()
    backend.add(np.arange(n), vectors, rows)
    build = time.perf_counter() - t0
    faiss.omp_set_num_threads(1)  # one query per core: the serving setting, and robust to a busy machine
    result = {"family": backend.family, "n": n, "build_s": round(build, 2),
              "fields_prep_s": round(t_meta, 2), "index_mb": round(backend.memory_bytes() / 2**20, 1)}
    for label, flt, tr in (("plain", None, truth), ("filtered", filters, truth_f)):
        lat, hits = [], 0
        for i, qi in enumerate(q):
            t0 = time.perf_counter()
            ids, _ = backend.search(qi, k, None if flt is None else flt[i])
            lat.append((time.perf_counter() - t0) * 1000)
            hits += len(set(ids.tolist()) & tr[i])
        result[f"{label}_p50_ms"] = round(pct(lat, 50), 3)
        result[f"{label}_p95_ms"] = round(pct(lat, 95), 3)
        result[f"{label}_recall10"] = round(hits / sum(len(t) for t in tr), 4)
    del backend
    faiss.omp_set_num_threads(BUILD_THREADS)
    return result


def growth(results: list[dict]) -> list[dict]:
    """Fitted exponent b in latency ~ n^b between consecutive sizes, per family and mode."""
    out = []
    families = sorted({r["family"] for r in results})
    for fam in families:
        rs = sorted((r for r in results if r["family"] == fam), key=lambda r: r["n"])
        for a, b in zip(rs, rs[1:]):
            row = {"family": fam, "from_n": a["n"], "to_n": b["n"]}
            for label in ("plain", "filtered"):
                la, lb = a[f"{label}_p50_ms"], b[f"{label}_p50_ms"]
                row[f"{label}_exponent"] = round(math.log(lb / la) / math.log(b["n"] / a["n"]), 3)
            out.append(row)
    return out


def table(results: list[dict]) -> str:
    head = ("| n | family | build s | index MB | p50 ms | p95 ms | recall@10 | "
            "filtered p50 ms | filtered p95 ms | filtered recall@10 |")
    lines = [head, "|" + "---|" * 10]
    for r in results:
        lines.append(f"| {r['n']:,} | {r['family']} | {r['build_s']} | {r['index_mb']} | {r['plain_p50_ms']} | "
                     f"{r['plain_p95_ms']} | {r['plain_recall10']} | {r['filtered_p50_ms']} | "
                     f"{r['filtered_p95_ms']} | {r['filtered_recall10']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000")
    ap.add_argument("--families", default="flat,hnsw,ivf_sq8,ivf_pq")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    print(f"faiss threads: build {BUILD_THREADS}, queries 1", file=sys.stderr)
    results = []
    for n in [int(s) for s in args.sizes.split(",")]:
        t0 = time.perf_counter()
        vectors, fields, centres = synthetic_catalog(n)
        q, filters = queries(centres, fields, args.queries)
        masks = np.stack([(fields["category"] == f["category"][0]) & (fields["price"] <= f["price"]["max"])
                          for f in filters])
        truth, truth_f = exact_topk(vectors, q, 10), exact_topk(vectors, q, 10, masks)
        print(f"n={n:,}: data + exact truth in {time.perf_counter() - t0:.1f}s; "
              f"filter passes {masks.mean():.2%} of the catalog", file=sys.stderr)
        for fam in args.families.split(","):
            r = bench_family(fam, vectors, fields, q, filters, truth, truth_f)
            r["filter_share"] = round(float(masks.mean()), 4)
            print(json.dumps(r), file=sys.stderr)
            results.append(r)
        del vectors, fields
    report = {"results": results, "growth": growth(results), "dim": DIM, "queries": args.queries}
    print(table(results))
    for g in report["growth"]:
        print(f"{g['family']}: p50 latency exponent {g['from_n']:,}->{g['to_n']:,}: "
              f"plain {g['plain_exponent']}, filtered {g['filtered_exponent']}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
