"""Search latency benchmark: p50/p95 and throughput per ranking mode and for refinement turns,
reported as ratios against the keyword-only baseline measured in the same process.

Usage: .venv/bin/python bench/search.py [--catalog fashion] [--queries N] [--json OUT]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.config import get_settings  # noqa: E402
from assistant.core import Assistant  # noqa: E402
from assistant.chat.dialog import Conversation  # noqa: E402

REFINEMENTS = ["in blue", "under 50", "for women", "not black", "cheaper"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def timed(fn, items) -> dict:
    times = []
    started = time.perf_counter()
    for item in items:
        t = time.perf_counter()
        fn(item)
        times.append((time.perf_counter() - t) * 1000)
    wall = time.perf_counter() - started
    return {"p50_ms": round(percentile(times, 50), 2), "p95_ms": round(percentile(times, 95), 2),
            "mean_ms": round(statistics.mean(times), 2), "qps": round(len(items) / wall, 1), "n": len(items)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--catalog", default="fashion")
    ap.add_argument("--queries", type=int, default=150)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    settings = get_settings()
    assistant = Assistant(settings, progress=True)
    catalog = settings.resolve_catalog(args.catalog)
    assistant.engine(catalog)
    path = settings.data_dir / "fashion-queries" / "query.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        queries = [r["query"] for r in csv.DictReader(fh, delimiter="\t")][: args.queries]
    for mode in ("keyword", "dense", "hybrid", "smart"):  # warm-up
        assistant.search(queries[0], catalog=catalog, mode=mode)
    report: dict = {"catalog": catalog, "cpus": os.cpu_count(), "load_average": os.getloadavg(), "modes": {}}
    engine = assistant.engine(catalog)
    for mode in ("keyword", "dense", "hybrid", "smart"):
        engine.__dict__.pop("_vectors", None)  # every mode pays for its own query encoding
        engine.matcher._cache.clear()
        report["modes"][mode] = timed(lambda q, m=mode: assistant.search(q, catalog=catalog, mode=m), queries)

    def first_then_refine(pair):
        conv, refinement = pair
        conv.handle(refinement)

    convs = []
    for i, q in enumerate(queries):
        conv = Conversation(assistant, catalog=catalog)
        conv.handle(q)
        convs.append((conv, REFINEMENTS[i % len(REFINEMENTS)]))
    report["modes"]["refine turn"] = timed(first_then_refine, convs)
    base = report["modes"]["keyword"]
    print(f"{'mode':<12} {'p50 ms':>8} {'p95 ms':>8} {'qps':>7} {'p50 x':>7} {'p95 x':>7} {'qps x':>7}")
    for mode, m in report["modes"].items():
        m["p50_ratio"] = round(m["p50_ms"] / base["p50_ms"], 2)
        m["p95_ratio"] = round(m["p95_ms"] / base["p95_ms"], 2)
        m["qps_ratio"] = round(m["qps"] / base["qps"], 2)
        print(f"{mode:<12} {m['p50_ms']:>8} {m['p95_ms']:>8} {m['qps']:>7} {m['p50_ratio']:>7} "
              f"{m['p95_ratio']:>7} {m['qps_ratio']:>7}")
    print(f"(ratios against keyword-only in the same process; load average {report['load_average']})")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
