"""The `assistant` command: build indexes, search, serve the app. A thin shell over `Assistant`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from assistant.config import get_settings
from assistant.errors import ShopperError
from assistant.search import MODES, Filters


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description="Multimodal shopping assistant")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="build (or rebuild) a catalog's indexes")
    p.add_argument("--catalog", action="append", help="catalog name or path; repeatable; default: all available")
    p.add_argument("--force", action="store_true", help="rebuild even if the index is current")

    p = sub.add_parser("search", help="search a catalog")
    p.add_argument("query", help="what the shopper typed")
    p.add_argument("--catalog", help="catalog name or path to a JSONL/CSV/WANDS file")
    p.add_argument("--k", type=int, default=None, help="number of results (default 10)")
    p.add_argument("--mode", choices=MODES, default="smart")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--price-min", type=float)
    p.add_argument("--price-max", type=float)
    for name in ("category", "color", "brand", "gender", "material", "occasion"):
        p.add_argument(f"--{name}", action="append", default=[], help=f"filter on {name} (repeatable)")

    sub.add_parser("catalogs", help="list catalogs and their index status")

    p = sub.add_parser("serve", help="start the Gradio app")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--catalog", help="catalog to open first")

    p = sub.add_parser("eval", help="score ranking modes on judged queries (WANDS layout)")
    p.add_argument("--catalog", default="fashion", help="catalog name or path (default fashion)")
    p.add_argument("--queries", help="query.csv (default <data_dir>/fashion-queries/query.csv)")
    p.add_argument("--labels", help="label.csv (default <data_dir>/fashion-queries/label.csv)")
    p.add_argument("--products", help="a WANDS product.csv to build and search instead of --catalog")
    p.add_argument("--modes", help=f"comma-separated subset of {','.join(MODES)} (default all)")
    p.add_argument("--split", choices=("all", "train", "dev"), default="dev")
    p.add_argument("--k", type=int, default=10, help="nDCG cutoff (default 10)")
    p.add_argument("--json", metavar="OUT", help="also write the numbers and settings to this JSON file")
    p.add_argument("--limit", type=int, help="evaluate only the first N queries of the split")
    return parser


def _cmd_build(args, settings) -> int:
    from assistant.index import build_index, check_index, IndexProblem

    names = [settings.resolve_catalog(c) for c in args.catalog] if args.catalog else settings.available_catalogs()
    for name in names:
        if name not in settings.catalogs:
            raise ShopperError(f"Unknown catalog '{name}'. Known: {', '.join(sorted(settings.catalogs))}.")
        if not args.force:
            try:
                check_index(name, settings)
                print(f"{name}: index is current ({settings.index_dir / name})", file=sys.stderr)
                continue
            except IndexProblem as problem:
                print(f"{name}: {problem}: building", file=sys.stderr)
        index = build_index(name, settings, progress=True)
        m = index.manifest
        print(f"{name}: {m['count']} products indexed in {m['build_seconds']} s"
              + (f", {m['skipped_count']} bad rows skipped" if m["skipped_count"] else ""), file=sys.stderr)
        for row in m["skipped_rows"][:20]:
            print(f"  skipped {row}", file=sys.stderr)
    return 0


def _cmd_search(args, settings) -> int:
    from assistant.core import Assistant

    assistant = Assistant(settings, progress=True)
    catalog = settings.resolve_catalog(args.catalog)
    filters = Filters(price_min=args.price_min, price_max=args.price_max, categories=args.category,
                      colors=args.color, brands=args.brand, genders=args.gender,
                      materials=args.material, occasions=args.occasion)
    assistant.validate_text(args.query)  # fail fast, before loading models
    if args.k is not None and not 1 <= args.k <= settings.max_k:
        raise ShopperError(f"k must be between 1 and {settings.max_k}.")
    assistant.engine(catalog)  # load first so the timing below is the query alone
    started = time.perf_counter()
    response = assistant.search(args.query, catalog=catalog, k=args.k, mode=args.mode, filters=filters)
    elapsed = time.perf_counter() - started
    if args.json:
        print(json.dumps({
            "query": args.query, "catalog": catalog, "mode": response.mode, "total": response.total,
            "took_ms": round(elapsed * 1000, 1), "parsed": response.query.to_dict(),
            "filters": response.filters.describe(), "relaxed": response.relaxed,
            "facets": response.facets, "results": [r.to_dict() for r in response.results],
        }, indent=2, ensure_ascii=False))
        return 0
    chips = response.filters.describe()
    print(f"{response.total} matches in {elapsed * 1000:.0f} ms" + (f"  [{', '.join(chips)}]" if chips else ""))
    for r in response.results:
        price = f"${r.product.price:,.2f}" if r.product.price is not None else "price n/a"
        print(f"{r.rank:>2}. {r.product.title}  ({r.product.leaf_category}, {price})\n    {r.why}")
    return 0


def _cmd_catalogs(args, settings) -> int:
    from assistant.index import check_index, IndexProblem

    for name, source in sorted(settings.catalogs.items()):
        available = name in settings.available_catalogs()
        try:
            status = f"indexed ({check_index(name, settings)['count']} products)"
        except IndexProblem as problem:
            status = str(problem)
        print(f"{name:<12} {'ok ' if available else 'n/a'} {source.kind:<8} {status}  [{source.path}]")
    return 0


def _cmd_serve(args, settings) -> int:
    from assistant.ui import serve

    serve(settings, host=args.host, port=args.port, catalog=args.catalog)
    return 0


def _cmd_eval(args, settings) -> int:
    from pathlib import Path

    from assistant.core import Assistant
    from assistant.evaluation import run_eval

    queries = args.queries or settings.data_dir / "fashion-queries" / "query.csv"
    labels = args.labels or settings.data_dir / "fashion-queries" / "label.csv"
    if args.json and not Path(args.json).resolve().parent.is_dir():
        raise ShopperError(f"cannot write {args.json}: its folder does not exist")
    report = run_eval(Assistant(settings, progress=True), queries, labels, catalog=args.catalog,
                      products=args.products, modes=args.modes, split=args.split, k=args.k,
                      limit=args.limit, progress=lambda msg: print(msg, file=sys.stderr))
    print(f"catalog {report.catalog}, model {settings.text_model}, split {report.split}: "
          f"{report.n_queries} of {report.n_total_queries} queries")
    print(report.table())
    print(f"({report.seconds:.1f} s)")
    if args.json:
        try:
            with open(args.json, "w", encoding="utf-8") as fh:
                json.dump(report.to_dict(), fh, indent=2, ensure_ascii=False)
        except OSError as exc:
            raise ShopperError(f"cannot write {args.json}: {exc.strerror or exc}") from exc
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not args.verbose:
        for noisy in ("faiss", "sentence_transformers", "bm25s", "httpx", "transformers"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
    settings = get_settings()
    handlers = {"build": _cmd_build, "search": _cmd_search, "catalogs": _cmd_catalogs, "serve": _cmd_serve,
                "eval": _cmd_eval}
    try:
        return handlers[args.command](args, settings)
    except ShopperError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `assistant search ... | head`
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
