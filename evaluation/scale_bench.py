"""Scale benchmark (`assistant bench scale`, docs/scaling.md): synthetic 384-d catalogs with filter
fields, every FAISS index family, and the bm25s keyword side at the same size.

It measures the app's own code path: the backend comes from `backend_from_settings` (the `vector_*`
settings, with the family and build options of the run laid over them) and every query is a
`search_rows` call on the allowed rows of a filter mask, as `SearchEngine.dense_ranking` makes it.

Per size and family: build time, index memory (serialized size and process RSS growth), p50/p95
single-query latency and recall@10 against exact search (same filter) for plain queries, a
selective filter (category + price, ~1 % passes: exact scan of the passing rows) and a broad
filter (price only, 10-40 % passes: ANN with an IDSelector and raised efSearch / nprobe), over a
sweep of the query-time effort (efSearch, nprobe); and the latency growth exponent between sizes.

Two generators: `realistic` (default) mixes real MiniLM vectors of the fashion catalog with
their neighbours plus small noise, so neighbour structure looks like a real catalog's; `hard`
(the first generator) is isotropic noise around 1,000 random centres, far harder for ANN.
Vectors are cached under var/scale/ so reruns skip generation and exact ground truth.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

DIM = 384
FIELDS = {"category": "str", "colour": "str", "price": "float"}
ROOT = Path(__file__).resolve().parent.parent
SWEEP = {"flat": [None], "hnsw": [64, 128, 256], "hnsw_fp16": [64, 128, 256], "hnsw_sq8": [64, 128, 256],
         "ivf_sq8": [16, 32, 64], "ivf_pq": [32]}
MODES = ("plain", "selective", "broad")


def rss_mb() -> float:
    """Resident memory of this process (Linux /proc; no extra dependency)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ------------------------------------------------------------------ data
def _real_catalog(folder: Path):
    """A built catalog index folder (vectors.npy + products.jsonl): the realistic generator's seed."""
    vectors = np.load(folder / "vectors.npy").astype(np.float32)
    products = [json.loads(line) for line in (folder / "products.jsonl").read_text().splitlines() if line]
    return vectors, products


def _neighbours(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    import faiss

    scores, idx = faiss.knn(vectors, vectors, k + 1, metric=faiss.METRIC_INNER_PRODUCT)
    return scores[:, 1:], idx[:, 1:]  # drop self


def realistic_vectors(n: int, real: np.ndarray, seed: int, noise: float = 0.012, pool: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """New vectors as normalised mixtures a*x_i + (1-a)*x_j of a real product and one of its
    `pool` nearest real neighbours, plus per-dimension noise: the catalog's own manifold,
    densified. Returns (vectors, base row of each vector)."""
    rng = np.random.default_rng(seed)
    _, nb = _neighbours(real, pool)
    base = rng.integers(0, len(real), n)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        part = slice(start, min(n, start + 100_000))
        b = base[part]
        j = nb[b, rng.integers(0, pool, len(b))]
        a = rng.uniform(0.5, 1.0, (len(b), 1)).astype(np.float32)
        v = a * real[b] + (1 - a) * real[j] + rng.standard_normal((len(b), DIM)).astype(np.float32) * noise
        out[part] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out, base


def hard_vectors(n: int, seed: int, clusters: int = 1000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first generator: random centres + isotropic noise 0.06 per dimension (noise norm ~1.2,
    larger than the centre), so nearly isotropic and far harder for ANN than real embeddings."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    which = rng.integers(0, clusters, n)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        part = slice(start, min(n, start + 100_000))
        v = centres[which[part]] + rng.standard_normal((part.stop - part.start, DIM)).astype(np.float32) * 0.06
        out[part] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out, which, centres


def catalog(n: int, generator: str, cache: Path, source: Path, seed: int = 0):
    """(vectors, fields) for n synthetic products, cached as .npy/.npz under `cache`."""
    stem = cache / f"{generator}-{n}-{seed}" if source.name == "fashion" else cache / f"{generator}-{source.name}-{n}-{seed}"
    if Path(f"{stem}.npy").exists() and Path(f"{stem}.npz").exists():
        f = np.load(f"{stem}.npz", allow_pickle=False)
        return np.load(f"{stem}.npy", mmap_mode=None), {k: f[k] for k in f.files}
    rng = np.random.default_rng(seed + 1000)
    if generator == "realistic":
        real, products = _real_catalog(source)
        vectors, base = realistic_vectors(n, real, seed)
        cats = np.array([(p["category"] or ["?"])[-1] for p in products])
        cols = np.array([(p["colors"] or ["?"])[0] for p in products])
        category, colour = cats[base], cols[base]
        titles_from = base
    else:
        vectors, which, _ = hard_vectors(n, seed)
        category = np.array([f"cat{c}" for c in which % 50])
        flip = rng.random(n) < 0.1
        category[flip] = [f"cat{c}" for c in rng.integers(0, 50, flip.sum())]
        p = 1 / np.arange(1, 21)
        colour = np.array([f"col{c}" for c in rng.choice(20, n, p=p / p.sum())])
        titles_from = which
    names, codes = np.unique(category, return_inverse=True)
    base_price = np.exp(rng.normal(3.5, 0.8, len(names)))
    price = np.round(base_price[codes] * np.exp(rng.normal(0, 0.5, n)), 2)
    fields = {"category": category.astype(str), "colour": colour.astype(str), "price": price,
              "title_from": titles_from.astype(np.int64)}
    cache.mkdir(parents=True, exist_ok=True)
    np.save(f"{stem}.npy", vectors)
    np.savez(f"{stem}.npz", **fields)
    return vectors, fields


def queries(n_queries: int, generator: str, fields: dict, source: Path, seed: int = 1):
    """Query vectors drawn like the catalog (not in it) and two filters per query:
    selective (one category, price cap so ~1 % passes) and broad (price cap, 10-40 % passes)."""
    rng = np.random.default_rng(seed)
    if generator == "realistic":
        real, _ = _real_catalog(source)
        q, _ = realistic_vectors(n_queries, real, seed + 7, noise=0.02)
    else:
        _, _, centres = hard_vectors(1, 0)
        q = centres[rng.integers(0, len(centres), n_queries)] + rng.standard_normal((n_queries, DIM)).astype(np.float32) * 0.08
        q = (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)
    names, counts = np.unique(fields["category"], return_counts=True)
    n = len(fields["price"])
    selective, broad = [], []
    for _ in range(n_queries):
        cat = str(rng.choice(names, p=counts / counts.sum()))
        prices = fields["price"][fields["category"] == cat]
        cap = float(np.quantile(prices, min(1.0, 0.01 * n / len(prices))))
        selective.append({"category": [cat], "price": {"max": cap}})
        broad.append({"price": {"max": float(np.quantile(fields["price"], rng.uniform(0.1, 0.4)))}})
    return q.astype(np.float32), {"selective": selective, "broad": broad}


def filter_mask(fields: dict, flt: dict) -> np.ndarray:
    mask = np.ones(len(fields["price"]), dtype=bool)
    for name, allowed in flt.items():
        if isinstance(allowed, dict):
            col = fields[name]
            mask &= (col >= allowed.get("min", -np.inf)) & (col <= allowed.get("max", np.inf))
        else:
            mask &= np.isin(fields[name], allowed)
    return mask


def exact_truth(vectors, fields, q, filters, k: int = 10, chunk: int = 100_000) -> dict[str, list[set]]:
    """Exact top-k per query and filter mode: one BLAS product per chunk of rows, masked per mode."""
    masks = {mode: np.stack([filter_mask(fields, f) for f in flts]) for mode, flts in filters.items()}
    best = {mode: (np.full((len(q), k), -np.inf, np.float32), np.full((len(q), k), -1, np.int64))
            for mode in ("plain", *filters)}
    for start in range(0, len(vectors), chunk):
        scores = q @ vectors[start:start + chunk].T
        for mode, (bs, bi) in best.items():
            s = scores if mode == "plain" else np.where(masks[mode][:, start:start + chunk], scores, -np.inf)
            kk = min(k, s.shape[1])
            top = np.argpartition(-s, kk - 1, axis=1)[:, :kk]
            cs, ci = np.concatenate([bs, np.take_along_axis(s, top, 1)], 1), np.concatenate([bi, top + start], 1)
            keep = np.argsort(-cs, axis=1)[:, :k]
            best[mode] = (np.take_along_axis(cs, keep, 1), np.take_along_axis(ci, keep, 1))
    return {mode: [set(i[s > -np.inf].tolist()) for s, i in zip(*best[mode])] for mode in best}


# ------------------------------------------------------------------ vector bench
def row_masks(fields: dict, filters: dict) -> dict[str, list[np.ndarray]]:
    """Each query's filter as the app hands it over, a row mask (bit-packed here to keep 1M-row
    runs in memory)."""
    return {mode: [np.packbits(filter_mask(fields, f)) for f in flts] for mode, flts in filters.items()}


def _run_queries(backend, q, masks, truth, k=10) -> dict:
    """Wall-clock and CPU-time latency of `np.flatnonzero(mask)` + `search_rows`, the app's dense
    step. On a shared machine the wall p95 includes time the query waited for a core; the
    thread's CPU time is what it costs on an idle core."""
    lat, cpu, hits = [], [], 0
    n = len(backend.row_ids)
    for i, qi in enumerate(q):
        mask = None if masks is None else np.unpackbits(masks[i], count=n).astype(bool)
        t0, c0 = time.perf_counter(), time.thread_time()
        allowed = None if mask is None else np.flatnonzero(mask)
        ids, _ = backend.search_rows(qi, k, allowed)
        lat.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
        hits += len(set(ids.tolist()) & truth[i])
    return {"p50_ms": round(float(np.percentile(lat, 50)), 3), "p95_ms": round(float(np.percentile(lat, 95)), 3),
            "cpu_p50_ms": round(float(np.percentile(cpu, 50)), 3), "cpu_p95_ms": round(float(np.percentile(cpu, 95)), 3),
            "recall10": round(hits / max(1, sum(len(t) for t in truth)), 4)}


def bench_family(family: str, vectors, fields, q, masks, truth, settings, sweep=None,
                 saved: Path | None = None) -> dict:
    """Build (or load from `saved`, written by an earlier run) one family, then time queries.
    `settings`: the app's, with the run's family and build options laid over them."""
    import faiss

    from assistant.retrieval.vectors.backends import backend_from_settings, load_faiss

    settings = settings.model_copy(update={"vector_backend": "faiss", "vector_family": family})

    n = len(vectors)
    gc.collect()
    rss0 = rss_mb()
    if saved is not None and (saved / "meta.json").exists():
        backend = load_faiss(saved, settings)
        built = json.loads((saved / "build.json").read_text())
        build, rss_build = built["build_s"], built["rss_delta_mb"]
    else:
        rows = [{"category": c, "colour": o, "price": float(p)}
                for c, o, p in zip(fields["category"].tolist(), fields["colour"].tolist(), fields["price"].tolist())]
        rss0 = rss_mb()
        backend = backend_from_settings(settings, DIM, FIELDS)
        t0 = time.perf_counter()
        backend.add(np.arange(n), vectors, rows)
        build = time.perf_counter() - t0
        del rows
        gc.collect()
        rss_build = rss_mb() - rss0
        if saved is not None:
            backend.save(saved)
            (saved / "build.json").write_text(json.dumps({"build_s": build, "rss_delta_mb": rss_build}))
    gc.collect()
    result = {"family": backend.family, "n": n, "build_s": round(build, 1),
              "index_mb": round(backend.memory_bytes() / 2**20, 1),
              "rss_delta_mb": round(rss_build, 1), "settings": {}}
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)  # one query per core: the serving setting
    knob = "nprobe" if family.startswith("ivf") else "ef_search"
    for value in (SWEEP[family] if sweep is None or family == "flat" else sweep):
        if value is not None:
            backend.set_search(**{knob: value})
        key = "exact" if value is None else f"{knob}={value}"
        row = {mode: _run_queries(backend, q, None if mode == "plain" else masks[mode], truth[mode])
               for mode in MODES}
        result["settings"][key] = row
        print(f"  {family} n={n:,} {key}: " + json.dumps(row), file=sys.stderr)
    if family in ("flat", "hnsw", "hnsw_fp16", "hnsw_sq8"):
        # the other strategy for the selective filter: ANN + IDSelector instead of the exact scan
        keep = backend.exact_below
        backend.exact_below = 0.0
        result["selective_via_ann"] = _run_queries(backend, q, masks["selective"], truth["selective"])
        backend.exact_below = keep
    faiss.omp_set_num_threads(threads)
    del backend
    gc.collect()
    return result


# ------------------------------------------------------------------ keyword bench
def bench_keyword(n: int, fields: dict, source: Path, n_queries: int, seed: int = 2) -> dict:
    """bm25s over n synthetic titles (the real fashion titles' tokens, recombined), queried the
    way assistant/retrieval/search.py does: tokenize, get_scores over all rows, top-k."""
    import bm25s

    from assistant.language.text import tokenize

    rng = np.random.default_rng(seed)
    _, products = _real_catalog(source)
    real = [tokenize(p["title"]) or ["__empty__"] for p in products]
    vocab = sorted({t for toks in real for t in toks})
    base = fields["title_from"] % len(real)
    extra = rng.integers(0, len(vocab), n)
    corpus = []
    for b, e in zip(base.tolist(), extra.tolist()):
        corpus.append(real[b] + [vocab[e]])  # a real title plus one word from the vocabulary
    gc.collect()
    rss0 = rss_mb()
    t0 = time.perf_counter()
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    build = time.perf_counter() - t0
    del corpus
    gc.collect()
    arrays = sum(a.nbytes for a in retriever.scores.values() if hasattr(a, "nbytes"))
    result = {"n": n, "build_s": round(build, 1), "index_mb": round(arrays / 2**20, 1),
              "rss_delta_mb": round(rss_mb() - rss0, 1)}
    lat, cpu = [], []
    for _ in range(n_queries):
        toks = real[rng.integers(0, len(real))]
        query = [t for t in rng.choice(toks, min(len(toks), 2), replace=False).tolist() if t in retriever.vocab_dict]
        t0, c0 = time.perf_counter(), time.thread_time()
        scores = retriever.get_scores(query)
        top = np.argpartition(-scores, 10)[:10]
        top[np.argsort(-scores[top])]
        lat.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    for name, values in (("", lat), ("cpu_", cpu)):
        result[f"{name}p50_ms"] = round(float(np.percentile(values, 50)), 3)
        result[f"{name}p95_ms"] = round(float(np.percentile(values, 95)), 3)
    del retriever
    gc.collect()
    return result


# ------------------------------------------------------------------ realism check
def neighbour_stats(vectors: np.ndarray, sample: int = 1000, seed: int = 3) -> dict:
    """Top-1 / top-10 neighbour cosine and relative contrast (mean cosine distance to the
    catalog / to the nearest neighbour) for a sample of rows: how clustered the data is."""
    import faiss

    rng = np.random.default_rng(seed)
    rows = rng.choice(len(vectors), min(sample, len(vectors)), replace=False)
    scores, _ = faiss.knn(vectors[rows], vectors, 11, metric=faiss.METRIC_INNER_PRODUCT)
    scores = scores[:, 1:]
    mean_cos = (vectors[rows] @ vectors.mean(0))  # mean cosine to all rows
    rc = (1 - mean_cos) / np.maximum(1e-6, 1 - scores[:, 0])
    return {"top1_cos_median": round(float(np.median(scores[:, 0])), 3),
            "top10_cos_median": round(float(np.median(scores[:, 9])), 3),
            "top10_cos_p10": round(float(np.percentile(scores[:, 9], 10)), 3),
            "top10_cos_p90": round(float(np.percentile(scores[:, 9], 90)), 3),
            "mean_cos_to_catalog": round(float(np.mean(mean_cos)), 3),
            "relative_contrast_median": round(float(np.median(rc)), 2)}


def realism(source: Path) -> dict:
    real, _ = _real_catalog(source)
    n = len(real)
    synth, _ = realistic_vectors(n, real, seed=11)
    hard, _, _ = hard_vectors(n, seed=11)
    return {"n": n, "real_fashion_minilm": neighbour_stats(real), "realistic": neighbour_stats(synth),
            "hard": neighbour_stats(hard)}


# ------------------------------------------------------------------ report
def growth(results: list[dict]) -> list[dict]:
    """Exponent b in p50 latency ~ n^b between consecutive sizes, per family, setting and mode
    (wall clock and, as `<mode>_cpu`, thread CPU time)."""
    out = []
    for fam in sorted({r["family"] for r in results}):
        rs = sorted((r for r in results if r["family"] == fam), key=lambda r: r["n"])
        for a, b in zip(rs, rs[1:]):
            for key in a["settings"]:
                if key not in b["settings"]:
                    continue
                row = {"family": fam, "setting": key, "from_n": a["n"], "to_n": b["n"]}
                for mode in MODES:
                    for clock in ("p50_ms", "cpu_p50_ms"):
                        la, lb = a["settings"][key][mode].get(clock), b["settings"][key][mode].get(clock)
                        if la and lb:
                            name = mode if clock == "p50_ms" else f"{mode}_cpu"
                            row[name] = round(math.log(lb / la) / math.log(b["n"] / a["n"]), 3)
                out.append(row)
    return out


def table(results: list[dict]) -> str:
    head = ("| data | n | family | setting | build s | index MB | RSS +MB | p50 / p95 ms (cpu p95) | recall@10 | "
            "selective p50 / p95 ms (cpu p95) | sel. recall | broad p50 / p95 ms (cpu p95) | broad recall |")
    lines = [head, "|" + "---|" * 13]

    def cell(m: dict) -> str:
        return f"{m['p50_ms']} / {m['p95_ms']} ({m.get('cpu_p95_ms', '-')}) | {m['recall10']}"

    for r in results:
        for key, s in r["settings"].items():
            lines.append(f"| {r.get('generator', '')} | {r['n']:,} | {r['family']} | {key} | {r['build_s']} | "
                         f"{r['index_mb']} | {r['rss_delta_mb']} | {cell(s['plain'])} | {cell(s['selective'])} | "
                         f"{cell(s['broad'])} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="assistant bench scale", description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000", help="comma-separated catalog sizes (default 100000)")
    ap.add_argument("--families", default="flat,hnsw,hnsw_fp16,hnsw_sq8,ivf_sq8,ivf_pq")
    ap.add_argument("--sweep", help="query-effort values for every family (efSearch or nprobe), e.g. 128,256")
    ap.add_argument("--hard", action="store_true", help="the near-isotropic first generator instead of the realistic one")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--m", type=int, help="HNSW M (default: ASSISTANT_VECTOR_HNSW_M)")
    ap.add_argument("--ef-construction", type=int, help="default: ASSISTANT_VECTOR_EF_CONSTRUCTION")
    ap.add_argument("--keyword", action="store_true", help="also bench bm25s over n synthetic titles")
    ap.add_argument("--realism", action="store_true", help="only compare neighbour statistics of real vs synthetic")
    ap.add_argument("--cache", default=str(ROOT / "var" / "scale"))
    ap.add_argument("--source", default=str(ROOT / "indexes" / "fashion"),
                    help="built catalog index folder whose real vectors seed the realistic generator")
    ap.add_argument("--json", help="write results here (merged into an existing file by data/n/family)")
    ap.add_argument("--save-indexes", action="store_true",
                    help="keep built indexes under the cache folder and reuse them (re-time without rebuilding)")
    args = ap.parse_args(argv)
    import faiss

    from assistant.config import get_settings

    try:
        sizes = [int(x) for x in args.sizes.split(",")]
        sweep = [int(x) for x in args.sweep.split(",")] if args.sweep else None
    except ValueError:
        ap.error("--sizes and --sweep take comma-separated whole numbers, e.g. 100000,1000000")
    bad = [f for f in args.families.split(",") if f and f not in SWEEP]
    if bad:
        ap.error(f"unknown families {bad}; known: {', '.join(SWEEP)}")
    cache, source = Path(args.cache), Path(args.source)
    if not (source / "vectors.npy").exists():
        print(f"error: {source / 'vectors.npy'} is missing: run `assistant build --catalog fashion` first",
              file=sys.stderr)
        return 2
    report: dict = {"dim": DIM, "queries": args.queries, "results": [], "keyword": []}
    if args.json and Path(args.json).exists():
        report.update(json.loads(Path(args.json).read_text()))
    if args.realism:
        report["realism"] = realism(source)
        print(json.dumps(report["realism"], indent=1))
    generator = "hard" if args.hard else "realistic"
    settings = get_settings()
    args.m = args.m or settings.vector_hnsw_m
    args.ef_construction = args.ef_construction or settings.vector_ef_construction
    settings = settings.model_copy(update={"vector_hnsw_m": args.m, "vector_ef_construction": args.ef_construction})
    print(f"faiss threads: build {faiss.omp_get_max_threads()}, queries 1", file=sys.stderr)
    new = []
    for n in ([] if args.realism else sizes):
        t0 = time.perf_counter()
        vectors, fields = catalog(n, generator, cache, source)
        families = [f for f in args.families.split(",") if f]
        if families:  # keyword-only runs (--families "") skip the vector ground truth
            q, filters = queries(args.queries, generator, fields, source)
            truth = exact_truth(vectors, fields, q, filters)
            masks = row_masks(fields, filters)
            shares = {m: round(float(np.mean([filter_mask(fields, f).mean() for f in fl])), 4) for m, fl in filters.items()}
            print(f"{generator} n={n:,}: data + exact truth {time.perf_counter() - t0:.0f}s; filter shares {shares}",
                  file=sys.stderr)
        for fam in families:
            saved = cache / f"index-{generator}-{n}-{fam}-m{args.m}-efc{args.ef_construction}" if args.save_indexes and fam != "flat" else None
            r = bench_family(fam, vectors, fields, q, masks, truth, settings, sweep, saved)
            r.update(generator=generator, filter_share=shares, hnsw_m=args.m, ef_construction=args.ef_construction)
            new.append(r)
            _write(args.json, report, new)
        if args.keyword:
            kw = bench_keyword(n, fields, source, args.queries)
            kw["generator"] = generator
            print("  keyword " + json.dumps(kw), file=sys.stderr)
            report["keyword"] = [k for k in report["keyword"] if (k["n"], k.get("generator")) != (n, generator)] + [kw]
        del vectors, fields
        gc.collect()
    _write(args.json, report, new)
    if new:
        print(table(new))
    for kw in report["keyword"]:
        print(f"keyword bm25s {kw.get('generator')} n={kw['n']:,}: build {kw['build_s']}s, {kw['index_mb']} MB "
              f"(RSS +{kw['rss_delta_mb']} MB), p50 {kw['p50_ms']} ms, p95 {kw['p95_ms']} ms "
              f"(cpu {kw.get('cpu_p50_ms')} / {kw.get('cpu_p95_ms')})")
    _write(args.json, report, [])
    return 0


def _write(path: str | None, report: dict, new: list[dict]) -> None:
    """Merge `new` into the report (replacing the same data/n/family/M) and write it, after every
    family: a long run that is stopped keeps what it measured."""
    keys = {(r["generator"], r["n"], r["family"], r.get("hnsw_m")) for r in new}
    report["results"] = [r for r in report["results"] if "settings" in r and
                         (r.get("generator"), r["n"], r["family"], r.get("hnsw_m")) not in keys] + new
    report["growth"] = {g: growth([r for r in report["results"] if r.get("generator") == g and r.get("hnsw_m", 32) == 32])
                        for g in ("realistic", "hard")}
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    raise SystemExit(main())
