"""`assistant recommend` and `assistant forget` (docs/privacy.md)."""

from __future__ import annotations

import time

from assistant.errors import ShopperError


def cmd_recommend(args, settings) -> int:
    """`assistant recommend --user ID [--k N] [--catalog] [--method] [--json]`."""
    import json

    from assistant.core import Assistant
    from assistant.recs.history import shopper_id
    from assistant.recs.recommend import METHODS, get_recommender

    user = shopper_id(args.user)  # fail fast, before loading models
    if not 1 <= args.k <= settings.max_k:
        raise ShopperError(f"k must be between 1 and {settings.max_k}.")
    if args.method not in METHODS:
        raise ShopperError(f"Unknown recommender '{args.method}'. Use one of: {', '.join(METHODS)}.")
    assistant = Assistant(settings, progress=True)
    catalog = settings.resolve_catalog(args.catalog)
    rec = get_recommender(assistant, catalog)
    started = time.perf_counter()
    results = rec.recommend(user, k=args.k, method=args.method)
    took = (time.perf_counter() - started) * 1000
    if args.json:
        print(json.dumps({"user": user, "catalog": catalog, "method": args.method, "took_ms": round(took, 1),
                          "history_events": rec.store.count(user) if rec.store else 0,
                          "results": [r.to_dict() for r in results]}, indent=2, ensure_ascii=False))
        return 0
    from assistant.shells.cli.main import result_lines

    for r in results:
        print(result_lines(r))
    return 0


def cmd_forget(args, settings) -> int:
    """`assistant forget --user ID`: delete the shopper's rows, VACUUM, truncate the WAL."""
    from assistant.recs.history import HistoryStore, shopper_id

    user = shopper_id(args.user)
    store = HistoryStore.from_settings(settings)
    deleted = store.forget(user)
    store.close()
    print(f"forgot shopper {user}: {deleted} event(s) deleted; {settings.history_db} compacted")
    return 0
