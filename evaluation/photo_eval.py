"""Photo commands for the CLI: `search --image`, `eval-photos`, and the photo step of `build`.

`eval-photos` uses the held-out part of the split by product id (never trained on) as queries:
each photo goes through the full path (file -> checks -> embedding -> recognition -> search),
excluding itself, against the whole catalog. It reports precision@10 for the same article type
and for the same type + colour, recognition accuracy per attribute, and p50/p95 latency.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from assistant.errors import ShopperError
from evaluation.search_eval import check_report_path, finish_report
from assistant.vision.photo_index import ATTRIBUTES, attribute_value, held_out

WARMUP = 3


@dataclass
class PhotoEvalReport:
    catalog: str
    model: str
    n_queries: int
    n_held_out: int
    n_catalog_photos: int
    precision: dict[str, float] = field(default_factory=dict)      # ranking -> metric -> value
    accuracy: dict[str, float] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    colour_accuracy: dict[str, dict] = field(default_factory=dict)   # label -> photos, exact accuracy
    seconds: float = 0.0

    def table(self) -> str:
        lines = ["| ranking | P@10 same type | P@10 same type+colour |", "|---|---|---|"]
        for name, m in self.precision.items():
            lines.append(f"| {name} | {m['type']:.3f} | {m['type_colour']:.3f} |")
        lines += ["", "| attribute | recognition accuracy (top-1) |", "|---|---|"]
        lines += [f"| {a} | {v:.3f} |" for a, v in self.accuracy.items()]
        lines += ["", "| colour (10 most frequent) | photos | accuracy |", "|---|---|---|"]
        lines += [f"| {c} | {m['photos']} | {m['accuracy']:.2f} |" for c, m in list(self.colour_accuracy.items())[:10]]
        lines += ["", f"photo query latency (file -> results, k=10): p50 {self.latency_ms['p50']:.1f} ms, "
                      f"p95 {self.latency_ms['p95']:.1f} ms over {self.n_queries - WARMUP} queries "
                      f"after {WARMUP} warm-up"]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return asdict(self)


def run_photo_eval(assistant, catalog: str = "fashion", limit: int | None = None,
                   progress=None) -> PhotoEvalReport:
    """Held-out photos as queries (full path, query excluded) against the whole catalog."""
    started = time.time()
    photos = assistant.photo_search(catalog)
    products = photos.products
    queries = [int(r) for r in photos.photos.rows if held_out(products[int(r)].id)]
    n_held_out = len(queries)
    if limit:
        queries = queries[:limit]
    if len(queries) <= WARMUP:
        raise ShopperError(f"catalog '{catalog}' has too few held-out photos to evaluate")
    hits = {"recognised attributes first (default)": [[], []], "image similarity only": [[], []]}
    correct: dict[str, list[bool]] = {a: [] for a in ATTRIBUTES}
    per_colour: dict[str, list[bool]] = {}
    times = []
    for n, pos in enumerate(queries):
        p = products[pos]
        t0 = time.perf_counter()
        query = photos.understand(_load(assistant, p.image))
        response = photos.search(query, k=10, exclude_ids={p.id})
        elapsed = time.perf_counter() - t0
        if n >= WARMUP:
            times.append(elapsed * 1000)
        plain = photos.search(query, k=10, exclude_ids={p.id}, drop=_all_values(query))
        for name, resp in (("recognised attributes first (default)", response), ("image similarity only", plain)):
            hits[name][0].append(np.mean([_same(p, r.product, ("category",)) for r in resp.results]))
            hits[name][1].append(np.mean([_same(p, r.product, ("category", "color")) for r in resp.results]))
        for attr in ATTRIBUTES:
            truth, best = attribute_value(p, attr), query.best(attr)
            if truth and best:
                correct[attr].append(best[0] == truth)
                if attr == "color":
                    per_colour.setdefault(truth, []).append(best[0] == truth)
        if progress and (n + 1) % 200 == 0:
            progress(f"{n + 1}/{len(queries)} photo queries")
    return PhotoEvalReport(
        catalog=catalog, model=photos.encoder.name, n_queries=len(queries), n_held_out=n_held_out,
        n_catalog_photos=len(photos.photos.rows),
        precision={k: {"type": float(np.mean(v[0])), "type_colour": float(np.mean(v[1]))} for k, v in hits.items()},
        accuracy={a: float(np.mean(v)) for a, v in correct.items() if v},
        colour_accuracy={c: {"photos": len(v), "accuracy": float(np.mean(v))}
                         for c, v in sorted(per_colour.items(), key=lambda kv: -len(kv[1]))},
        latency_ms={"p50": float(np.percentile(times, 50)), "p95": float(np.percentile(times, 95)),
                    "mean": float(np.mean(times))},
        seconds=time.time() - started)


def _load(assistant, path: str):
    from assistant.vision.images import load_image

    return load_image(path, max_bytes=assistant.settings.max_image_bytes,
                      max_pixels=assistant.settings.max_image_pixels)


def _all_values(query) -> set[str]:
    return {v for vals in query.recognised.values() for v, _ in vals}


def _same(a, b, attrs: tuple[str, ...]) -> bool:
    return all(attribute_value(a, x) == attribute_value(b, x) and attribute_value(a, x) for x in attrs)


def cmd_eval_photos(args, settings) -> int:
    from assistant.core import Assistant

    check_report_path(args.json)
    if args.limit is not None and args.limit <= WARMUP:
        raise ShopperError(f"--limit must be more than {WARMUP} (the warm-up queries)")
    assistant = Assistant(settings, progress=True)
    catalog = settings.resolve_catalog(args.catalog)
    report = run_photo_eval(assistant, catalog, args.limit,
                            progress=lambda msg: print(msg, file=sys.stderr))
    return finish_report(report, f"catalog {report.catalog}, image model {report.model}: {report.n_queries} "
                         f"held-out photo queries (of {report.n_held_out}; split by product id) against "
                         f"{report.n_catalog_photos} photos", args.json)
