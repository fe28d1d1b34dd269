"""Latency of a query typed in another language against an English one (issue 18: within 2x).

Searches each query of a multilingual judged set and of an English set, interleaved so a busy
machine slows both alike, after every resource is loaded; the first pass meets each query new, later passes again.
Prints p50/p95 (ms) per side and per language. Not a test: numbers depend on the machine.

Usage: python bench/foreign_latency.py [FOREIGN_QUERY_CSV] [ENGLISH_QUERY_CSV] [--repeat N]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.core import Assistant
from evaluation.search_eval import load_queries, percentile


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("foreign", nargs="?", default="eval/fashion-multilingual/query.csv")
    ap.add_argument("english", nargs="?", default="../shared/data/fashion-queries/query.csv")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--catalog", default="fashion")
    args = ap.parse_args()
    foreign, english = load_queries(args.foreign), load_queries(args.english)
    assistant = Assistant(progress=False)
    engine = assistant.engine(args.catalog)
    engine.reader.warm()
    assistant.search("warm up", catalog=args.catalog, k=100)
    times: dict[str, list[float]] = defaultdict(list)
    for rep in range(args.repeat):  # the first pass meets each query new (no word or vector cached)
        for i in range(min(len(foreign), len(english))):
            for q, side in ((foreign[i % len(foreign)], "foreign"), (english[i % len(english)], "english")):
                t0 = time.perf_counter()
                assistant.search(q.text, catalog=args.catalog, k=100)
                ms = (time.perf_counter() - t0) * 1000
                times[side].append(ms)
                times[f"{side}{'-first' if rep == 0 else '-again'}"].append(ms)
                if side == "foreign":
                    times[q.language or q.id.split("-")[0]].append(ms)
    for key, values in times.items():
        print(f"{key:8} n={len(values):4}  p50 {percentile(values, 50):7.1f} ms  p95 {percentile(values, 95):7.1f} ms")
    for when in ("-first", "-again"):
        f, e = times[f"foreign{when}"], times[f"english{when}"]
        print(f"ratio{when}: p50 {percentile(f, 50) / percentile(e, 50):.2f}, p95 {percentile(f, 95) / percentile(e, 95):.2f}")
    print(f"ratio foreign/english: p50 {percentile(times['foreign'], 50) / percentile(times['english'], 50):.2f}, "
          f"p95 {percentile(times['foreign'], 95) / percentile(times['english'], 95):.2f}")


if __name__ == "__main__":
    main()
