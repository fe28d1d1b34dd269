"""The `assistant` command: build indexes, search, serve the app. A thin shell over `Assistant`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from assistant.config import get_settings
from assistant.errors import ShopperError
from assistant.retrieval.facets import FACETS, Filters
from assistant.retrieval.search import MODES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description="Multimodal shopping assistant")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="build (or rebuild) a catalog's indexes")
    p.add_argument("--catalog", action="append", help="catalog name or path; repeatable; default: all available")
    p.add_argument("--force", action="store_true", help="rebuild even if the index is current")

    p = sub.add_parser("search", help="search a catalog")
    p.add_argument("query", nargs="?", default=None,
                   help="what the shopper typed (optional with --image: e.g. \"like this but in blue\")")
    p.add_argument("--image", metavar="PATH", help="search with a photo (docs/photos.md)")
    p.add_argument("--audio", metavar="FILE", help="search with a spoken query: wav/mp3/ogg/webm/m4a/flac (docs/voice.md)")
    p.add_argument("--language", help="spoken language of --audio, e.g. es (default: detect)")
    p.add_argument("--catalog", help="catalog name or path to a JSONL/CSV/WANDS file")
    p.add_argument("--k", type=int, default=None, help="number of results (default 10)")
    p.add_argument("--mode", choices=MODES, default="smart")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--price-min", type=float)
    p.add_argument("--price-max", type=float)
    for facet in FACETS:
        p.add_argument(f"--{facet.name}", action="append", default=[],
                       help=f"filter on {facet.label.lower()} (repeatable)")

    p = sub.add_parser("sync", help="apply a new export of a catalog (adds, changes, deletes) without a full rebuild")
    p.add_argument("--catalog", required=True, help="catalog name (or the path it was first built from)")
    p.add_argument("file", help="the new export (same formats as build: JSONL, CSV, WANDS, ...)")

    sub.add_parser("catalogs", help="list catalogs and their index status")

    p = sub.add_parser("eval-multilingual", help="top-10 overlap of translated queries with English")
    p.add_argument("--catalog", default="fashion")
    p.add_argument("--file", default=None, help="TSV: en<TAB>es<TAB>zh... (default eval/multilingual.tsv)")
    p.add_argument("--mode", choices=MODES, default="smart")
    p.add_argument("--json", dest="json_out", default=None, help="write the report to this path")

    p = sub.add_parser("parse", help="show how a message is understood (filters, intent)")
    p.add_argument("query")
    p.add_argument("--catalog", help="catalog whose vocabulary to use (default: the default catalog)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("transcribe", help="speech to text with Whisper (docs/voice.md)")
    p.add_argument("file", help="a recording: wav, mp3, ogg, webm, m4a or flac")
    p.add_argument("--language", help="spoken language, e.g. es (default: detect)")
    p.add_argument("--task", choices=("auto", "transcribe", "translate"), help="auto = translate non-English to English")
    p.add_argument("--backend", choices=("faster-whisper", "openai-whisper"), help="default from settings")
    p.add_argument("--model", help="base | tiny.en | a model folder or hub name (default from settings)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("serve", help="start the Gradio app")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--catalog", help="catalog to open first")
    p.add_argument("--kiosk", action="store_true",
                   help="kiosk mode: reset after ASSISTANT_KIOSK_IDLE_SECONDS idle (default 90), no catalog "
                        "picker, large touch targets, End session asks first, nothing stored beyond the session")

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
    p.add_argument("--spoken", action="store_true",
                   help="spoken vs typed: speak the judged English sets with synthetic voices, transcribe as "
                        "the app does, search (evaluation/spoken_eval.py, docs/voice.md)")
    p.add_argument("--voices", help="with --spoken: comma-separated engine:voice, engine espeak | flite | festival "
                        "(e.g. festival:kal_diphone, festival:cmu_us_slt_arctic_hts; default espeak:en-us,flite:slt)")
    p.add_argument("--part", choices=("dev", "unseen", "both", "all"), default="dev",
                   help="with --spoken: which part of the spoken split (default dev)")
    p.add_argument("--foreign", action="store_true", help="with --spoken: also es/fr/de espeak voices on the multilingual set")
    p.add_argument("--foreign-limit", type=int, default=8, help="with --foreign: queries per language and part (default 8)")
    p.add_argument("--given-language", action="store_true", help="with --foreign: tell Whisper the spoken language (the app's language picker) instead of detecting it")
    p.add_argument("--latency", action="store_true", help="with --spoken: also time a 5 s clip -> results")
    p.add_argument("--clips", help="with --spoken: folder caching the synthesised clips (default var/spoken-clips)")
    p.add_argument("--reuse", metavar="FILE", help="with --spoken: keep Whisper's output in this JSON and reuse it "
                                                  "(compares reading settings on the same transcripts; times are not end to end)")

    p = sub.add_parser("eval-photos", help="photo search + recognition quality on held-out catalog photos")
    p.add_argument("--catalog", default="fashion", help="catalog name or path (default fashion)")
    p.add_argument("--limit", type=int, help="use only the first N held-out photos as queries")
    p.add_argument("--json", metavar="OUT", help="also write the numbers to this JSON file")

    # shopper history (docs/privacy.md): recommendations, forget-me, offline recommender eval
    p = sub.add_parser("recommend", help="recommendations for an anonymous shopper id")
    p.add_argument("--user", required=True, help="the shopper's anonymous id (a UUID)")
    p.add_argument("--k", type=int, default=10, help="number of recommendations (default 10)")
    p.add_argument("--catalog", help="catalog name (default: the default catalog)")
    p.add_argument("--method", default="hybrid", help="hybrid | knn | knn-last | cooc | popular | fixed-blend")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = sub.add_parser("forget", help="delete every stored event of a shopper and compact the history file")
    p.add_argument("--user", required=True, help="the shopper's anonymous id (a UUID)")
    p = sub.add_parser("eval-recs", help="hit-rate@10 / nDCG@10 of each recommender on sessions from judged queries")
    p.add_argument("--catalog", default="fashion", help="catalog name (default fashion)")
    p.add_argument("--labels", help="label.csv (default <data_dir>/fashion-queries/label.csv)")
    p.add_argument("--sessions-per-query", type=int, default=10, help="test sessions per dev query (default 10)")
    p.add_argument("--seeds", default="13", help="session-sampling seeds, comma-separated (default 13); results pool them")
    p.add_argument("--json", metavar="OUT", help="also write the numbers and settings to this JSON file")
    p = sub.add_parser("bench", help="benchmarks: `bench scale --help` (vector + keyword index scaling, docs/scaling.md)")
    p.add_argument("bench", choices=["scale"], help="which benchmark")
    p.add_argument("bench_args", nargs=argparse.REMAINDER, help="the benchmark's own options")
    return parser


def _cmd_build(args, settings) -> int:
    from assistant.retrieval.index import build_index, check_index, IndexProblem

    names = [settings.resolve_catalog(c) for c in args.catalog] if args.catalog else settings.available_catalogs()
    for name in names:
        if name not in settings.catalogs:
            raise ShopperError(f"Unknown catalog '{name}'. Known: {', '.join(sorted(settings.catalogs))}.")
        if not args.force:
            try:
                check_index(name, settings)
                print(f"{name}: index is current ({settings.index_dir / name})", file=sys.stderr)
                _build_photos(name, settings, args.force)
                continue
            except IndexProblem as problem:
                print(f"{name}: {problem}: building", file=sys.stderr)
        index = build_index(name, settings, progress=True)
        m = index.manifest
        print(f"{name}: {m['count']} products indexed in {m['build_seconds']} s"
              + (f", {m['skipped_count']} bad rows skipped" if m["skipped_count"] else ""), file=sys.stderr)
        for row in m["skipped_rows"][:20]:
            print(f"  skipped {row}", file=sys.stderr)
        _build_photos(name, settings, args.force)
    return 0


def _cmd_sync(args, settings) -> int:
    from assistant.retrieval.sync import sync_index  # docs: README "Keeping a catalog up to date"

    result = sync_index(settings.resolve_catalog(args.catalog), settings, args.file, progress=True)
    print(result.summary(), file=sys.stderr)
    for row in result.skipped[:20]:
        print(f"  skipped {row}", file=sys.stderr)
    return 0


def _cmd_search(args, settings) -> int:
    from assistant.core import Assistant

    assistant = Assistant(settings, progress=True)
    catalog = settings.resolve_catalog(args.catalog)
    filters = Filters(price_min=args.price_min, price_max=args.price_max,
                      **{facet.field: getattr(args, facet.name) for facet in FACETS})
    assistant.validate_filters(filters)  # fail fast, before loading models
    if args.image:  # photo search (photo_commands.py)
        from assistant.shells.cli.photo_commands import cmd_search_image

        return cmd_search_image(assistant, args, catalog, filters)
    heard = None
    if args.audio:  # voice search (docs/voice.md): the transcript becomes (the start of) the query
        heard = assistant.transcribe(args.audio, language=args.language, catalog=catalog)
        if not args.json:
            print(f"heard ({heard.language_name}, {heard.task}): {heard.text}")
        _unsure(heard, args.json)  # the chat's decision: "say it again" stops here, "Did you mean" is said
        args.query = f"{heard.text} {args.query}" if args.query else heard.text
    if args.query is None:
        raise ShopperError("Please type what you are looking for, or give a photo with --image PATH.")
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
            **({"transcript": heard.to_dict()} if heard else {}),
            "took_ms": round(elapsed * 1000, 1), "parsed": response.query.to_dict(),
            "filters": response.filters.describe(), "relaxed": response.relaxed,
            "facets": response.facets, "results": [r.to_dict() for r in response.results],
        }, indent=2, ensure_ascii=False))
        return 0
    chips = response.filters.describe()
    print(f"{response.total} match{'' if response.total == 1 else 'es'} in {elapsed * 1000:.0f} ms" + (f"  [{', '.join(chips)}]" if chips else ""))
    for r in response.results:
        print(result_lines(r))
    return 0


def result_lines(r) -> str:
    """One ranked product as the CLI prints it: rank, title, (type, price) and why it is there."""
    p = r.product
    about = ", ".join(x for x in (p.leaf_category, p.price_text() or "price n/a") if x)
    return f"{r.rank:>2}. {p.title}  ({about})\n    {r.why}"


def _unsure(heard, as_json: bool) -> None:
    """Honour the decision `Assistant.transcribe` made (assistant/speech/reading.py, as the chat
    does): `repeat` is one `error:` line and exit 2, nothing searched; `confirm` says "Did you mean
    X or Y?" (stderr with --json) and the top reading, `heard.text`, is searched."""
    from assistant.speech.reading import reply

    if heard.decision == "repeat":
        raise ShopperError(reply(heard, box=False) + (f" (heard: “{heard.text}”)" if heard.text.strip() else ""))
    if heard.decision == "confirm":
        print(f"{reply(heard, box=False)} Searching “{heard.text}”; to search other words, type them.",
              file=sys.stderr if as_json else sys.stdout)


def _cmd_transcribe(args, settings) -> int:
    from assistant.speech.transcribe import transcribe

    heard = transcribe(args.file, settings, language=args.language, task=args.task,
                       backend=args.backend, model=args.model)
    if args.json:
        print(json.dumps(heard.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(heard.text)
        print(f"({heard.language_name}, p={heard.language_probability:.2f}, {heard.task}; "
              f"{heard.duration_s:.1f} s of audio in {heard.seconds:.2f} s)", file=sys.stderr)
    return 0


def _cmd_eval_multilingual(args, settings) -> int:
    from pathlib import Path

    from assistant.config import ROOT
    from assistant.core import Assistant
    from evaluation.search_eval import run_multilingual, write_report

    assistant = Assistant(settings, progress=True)
    path = Path(args.file) if args.file else ROOT / "eval" / "multilingual.tsv"
    report = run_multilingual(assistant, path, catalog=settings.resolve_catalog(args.catalog), mode=args.mode)
    print(f"{report['queries']} queries, mode {report['mode']}: top-10 overlap with English")
    for lang, value in report["overlap"].items():
        print(f"  {lang}: {value:.3f}")
    if args.json_out:
        write_report(args.json_out, report)
    return 0


def _cmd_parse(args, settings) -> int:
    from assistant.core import Assistant

    assistant = Assistant(settings, progress=True)
    text = assistant.validate_text(args.query)
    parsed = assistant.engine(settings.resolve_catalog(args.catalog)).parse(text)
    data = parsed.to_dict()
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        for key, value in data.items():
            if value not in (None, [], {}, ""):
                print(f"{key:>10}: {value}")
    return 0


def _cmd_catalogs(args, settings) -> int:
    from assistant.retrieval.index import check_index, current_source, IndexProblem

    for name, source in sorted(settings.catalogs.items()):
        source = current_source(name, settings) or source  # the last synced export, if any
        available = name in settings.available_catalogs()
        try:
            status = f"indexed ({check_index(name, settings)['count']} products)"
        except IndexProblem as problem:
            status = str(problem)
        print(f"{name:<12} {'ok ' if available else 'n/a'} {source.kind:<8} {status}  [{source.path}]")
    return 0


def _cmd_serve(args, settings) -> int:
    from assistant.shells.web.app import serve

    serve(settings, host=args.host, port=args.port, catalog=args.catalog, kiosk=args.kiosk)
    return 0


def _cmd_eval(args, settings) -> int:
    if args.spoken:
        from evaluation.spoken_eval import cmd_eval_spoken  # heavy imports stay out of other commands

        return cmd_eval_spoken(args, settings)

    from assistant.core import Assistant
    from evaluation.search_eval import check_report_path, finish_report, run_eval

    queries = args.queries or settings.data_dir / "fashion-queries" / "query.csv"
    labels = args.labels or settings.data_dir / "fashion-queries" / "label.csv"
    check_report_path(args.json)
    report = run_eval(Assistant(settings, progress=True), queries, labels, catalog=args.catalog,
                      products=args.products, modes=args.modes, split=args.split, k=args.k,
                      limit=args.limit, progress=lambda msg: print(msg, file=sys.stderr))
    return finish_report(report, f"catalog {report.catalog}, model {settings.text_model}, split "
                         f"{report.split}: {report.n_queries} of {report.n_total_queries} queries", args.json)


def _build_photos(name, settings, force) -> None:
    from assistant.shells.cli.photo_commands import build_photos

    build_photos(name, settings, force)


def _cmd_eval_photos(args, settings) -> int:
    from evaluation.photo_eval import cmd_eval_photos

    return cmd_eval_photos(args, settings)


def _history_command(name, args, settings) -> int:
    if name == "eval-recs":
        from evaluation.recs_eval import cmd_eval_recs  # evaluation stays out of the other commands

        return cmd_eval_recs(args, settings)
    from assistant.shells.cli.recs_commands import cmd_forget, cmd_recommend  # docs/privacy.md

    return {"recommend": cmd_recommend, "forget": cmd_forget}[name](args, settings)


def _cmd_bench(args, settings) -> int:
    from evaluation import scale_bench  # heavy imports stay out of other commands

    return scale_bench.main(args.bench_args)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not args.verbose:
        for noisy in ("faiss", "sentence_transformers", "bm25s", "httpx", "transformers"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
    handlers = {"parse": _cmd_parse, "eval-multilingual": _cmd_eval_multilingual, "build": _cmd_build, "search": _cmd_search, "catalogs": _cmd_catalogs, "serve": _cmd_serve,
                "eval": _cmd_eval}
    handlers["eval-photos"] = _cmd_eval_photos
    handlers["transcribe"] = _cmd_transcribe
    handlers["bench"] = _cmd_bench
    handlers["sync"] = _cmd_sync
    handlers.update({name: (lambda a, s, n=name: _history_command(n, a, s))
                     for name in ("recommend", "forget", "eval-recs")})
    try:
        settings = get_settings()  # a bad ASSISTANT_* value is one error line, like bad input
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
