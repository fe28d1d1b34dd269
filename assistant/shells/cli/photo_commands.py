"""Photo commands of the CLI: `search --image` and the photo step of `build`."""

from __future__ import annotations

import json
import sys
import time

from assistant.errors import ShopperError


def cmd_search_image(assistant, args, catalog: str, filters) -> int:
    """`assistant search --image PATH [text]`: print results like a text search, plus what was seen."""
    from assistant.vision.images import load_image

    settings = assistant.settings
    if args.k is not None and not 1 <= args.k <= settings.max_k:
        raise ShopperError(f"k must be between 1 and {settings.max_k}.")
    text = assistant.validate_text(args.query) if args.query else None
    image = load_image(args.image, max_bytes=settings.max_image_bytes,
                       max_pixels=settings.max_image_pixels)  # fail fast, before loading models
    photos = assistant.photo_search(catalog)
    started = time.perf_counter()
    response = assistant.search_image(photos.understand(image), text=text, catalog=catalog,
                                      k=args.k, filters=filters)
    elapsed = time.perf_counter() - started
    recognised = {a: [{"value": v, "probability": round(p, 3)} for v, p in vals]
                  for a, vals in response.recognised.items()}
    if args.json:
        print(json.dumps({
            "image": str(args.image), "query": text, "catalog": catalog, "mode": response.mode,
            "total": response.total, "took_ms": round(elapsed * 1000, 1), "recognised": recognised,
            "preferences": response.preferences.describe(), "parsed": response.query.to_dict(),
            "filters": response.filters.describe(), "relaxed": response.relaxed,
            "facets": response.facets, "results": [r.to_dict() for r in response.results],
        }, indent=2, ensure_ascii=False))
        return 0
    seen = ", ".join(f"{a} {vals[0][0]} ({vals[0][1]:.0%})" for a, vals in response.recognised.items())
    print(f"recognised: {seen}")
    print(f"{response.total} match{'' if response.total == 1 else 'es'} in {elapsed * 1000:.0f} ms, preferring: "
          f"{', '.join(response.preferences.describe()) or 'nothing'}")
    for r in response.results:
        about = ", ".join(x for x in (r.product.leaf_category, ", ".join(r.product.colors) or "colour n/a") if x)
        print(f"{r.rank:>2}. {r.product.title}  ({about})\n    {r.why}")
    return 0


def build_photos(name: str, settings, force: bool = False) -> None:
    """The photo step of `assistant build`: only catalogs whose products have photos get one."""
    from assistant.retrieval.index import IndexProblem, load_index
    from assistant.vision.photo_index import build_photo_index, check_photo_index, has_photos

    index = load_index(name, settings)
    if not has_photos(index):
        print(f"{name}: no product photos, no photo index", file=sys.stderr)
        return
    if not force:
        try:
            check_photo_index(index, settings)
            print(f"{name}: photo index is current", file=sys.stderr)
            return
        except IndexProblem as problem:
            print(f"{name}: {problem}: building", file=sys.stderr)
    try:
        m = build_photo_index(index, settings, progress=True).manifest
    except ShopperError as problem:  # e.g. no listed photo can be opened: text search still works
        print(f"{name}: no photo index: {problem}", file=sys.stderr)
        return
    print(f"{name}: {m['count']} photos indexed in {m['build_seconds']} s "
          f"({m['reused_vectors']} cached); held-out probe accuracy {m['held_out_accuracy']}"
          + (f"; {m['skipped_count']} unreadable photos skipped" if m["skipped_count"] else ""),
          file=sys.stderr)
