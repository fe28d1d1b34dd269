"""Measure the "we don't carry that here" detector (assistant/retrieval/scope.py).

Text: every judged query set is about things its catalog has, so each query flagged there is a
false positive; real WANDS home-goods queries against the fashion catalog (and fashion queries
against the WANDS fixture's home goods) are about things it lacks, so the share flagged there is
the detector's recall. For each set it prints the false-positive (or flagged) rate and the lowest
best-type similarities of queries that named no type, which is where the threshold must stay below.

Photo (`--photos N`): N held-out photos of a slice of the fashion catalog against that slice (the
eval's split, assistant/vision/photo_index.py), and plain-colour squares; prints the nearest-
neighbour similarity percentiles of both.

    ASSISTANT_INDEX_DIR=/work/main/indexes python -m bench.dont_carry [--photos 300]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
# (name, query file, catalog, in scope?)
SETS = [
    ("fashion-unseen", ROOT / "eval/fashion-unseen/query.csv", "fashion", True),
    ("fashion-multilingual-unseen", ROOT / "eval/fashion-multilingual-unseen/query.csv", "fashion", True),
    ("fashion-synonyms", ROOT / "eval/fashion-synonyms/query.csv", "fashion", True),
    ("fashion-paraphrases", ROOT / "eval/fashion-paraphrases/query.csv", "fashion", True),
    ("fashion-multilingual", ROOT / "eval/fashion-multilingual/query.csv", "fashion", True),
    ("fashion-queries (shared)", DATA / "fashion-queries/query.csv", "fashion", True),
    ("wands fixture", ROOT / "tests/fixtures/wands/query.csv", "wands", True),
    ("WANDS 480 on fashion", DATA / "wands-queries/query.csv", "fashion", False),
    ("fashion-queries on WANDS fixture", DATA / "fashion-queries/query.csv", "wands", False),
]


def text_report(show: int = 5) -> list[dict]:
    from assistant.config import get_settings, settings_from_env
    from assistant.core import Assistant
    from assistant.retrieval.scope import FOREIGN_MARGIN, FOREIGN_MIN_SIMILARITY, product_words, text_scope
    from evaluation.search_eval import load_queries

    fashion = Assistant(get_settings(), progress=False)
    tmp = tempfile.mkdtemp(prefix="dont-carry-")
    wands = Assistant(settings_from_env(index_dir=tmp), progress=False)
    wands_name = wands.settings.register_path(str(ROOT / "tests/fixtures/wands/product.csv"))
    engines = {"fashion": fashion.engine("fashion"), "wands": wands.engine(wands_name)}
    references = {"fashion": fashion.scope_reference("fashion"), "wands": wands.scope_reference(wands_name)}
    for catalog, reference in references.items():
        print(f"{catalog}: compared with {len(reference.names)} types of the other catalogs:",
              ", ".join(reference.names), flush=True)
    rows = []
    for name, path, catalog, in_scope in SETS:
        if not path.exists():
            continue
        engine = engines[catalog]
        flagged, untyped = [], []
        queries = load_queries(path)
        for q in queries:
            parsed = engine.parse(q.text)
            asked = product_words(parsed)
            if not parsed.categories and asked and not any(w in engine.vocab.known_words for w in asked):
                phrase = " ".join(asked)
                best = engine.matcher.nearest(phrase, 1)
                foreign, own_names = references[catalog].compare(engine.encoder.encode_queries([phrase])[0])
                own = max(best[0][1] if best else 0.0, own_names)
                gap = (foreign[1] - own) if foreign else -1.0
                # sorted by how close each came to being flagged (largest gap first)
                untyped.append((-gap, q.text, round(own, 3), foreign and (foreign[0], round(foreign[1], 3))))
            if text_scope(parsed, engine.matcher, engine.vocab, references[catalog]) is not None:
                flagged.append(q.text)
        untyped.sort()
        row = {"set": name, "catalog": catalog, "in_scope": in_scope, "queries": len(queries),
               "flagged": len(flagged), "rate": round(len(flagged) / len(queries), 4),
               "untyped": len(untyped),
               "closest_to_flagged": [(t, {"gap": round(-g, 3), "own": o, "foreign": f}) for g, t, o, f in untyped[:show]],
               "examples": flagged[:show]}
        rows.append(row)
        kind = "false positives" if in_scope else "flagged (recall)"
        print(f"{name:34} {catalog:8} {kind:17} {len(flagged):3}/{len(queries):3} = {row['rate']:.3f}"
              f"   no type named: {len(untyped)}", flush=True)
        print("    closest to (or most clearly) flagged:", row["closest_to_flagged"])
        print("    flagged:", flagged[:show])
    print(f"FOREIGN_MIN_SIMILARITY = {FOREIGN_MIN_SIMILARITY}, FOREIGN_MARGIN = {FOREIGN_MARGIN}")
    return rows


def photo_report(n: int, every: int = 16) -> dict:
    """Held-out photos of a slice of the fashion catalog (every `every`-th product: each type in
    proportion) against the rest of it, and plain-colour squares: nearest-neighbour similarity.
    A slice has fewer neighbours than the whole catalog, so its held-out similarities are lower:
    a threshold below them is conservative for the full catalog."""
    import csv

    from PIL import Image

    from assistant.config import settings_from_env
    from assistant.core import Assistant
    from assistant.retrieval.scope import PHOTO_MIN_SIMILARITY
    from assistant.vision.photo_index import held_out

    folder = DATA / "fashion"
    tmp = Path(tempfile.mkdtemp(prefix="dont-carry-photos-"))
    rows = []
    with (folder / "styles.csv").open(newline="", encoding="utf-8") as fh:
        for i, r in enumerate(csv.DictReader(fh)):
            image = folder / "images" / f"{r['id']}.jpg"
            if i % every == 0 and image.is_file():
                rows.append({"id": r["id"], "title": r["productDisplayName"],
                             "category": [r["masterCategory"], r["subCategory"], r["articleType"]],
                             "colors": [r["baseColour"]], "gender": r["gender"], "image": str(image)})
    path = tmp / "slice.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assistant = Assistant(settings_from_env(index_dir=str(tmp / "indexes")), progress=False)
    name = assistant.settings.register_path(str(path))
    photos = assistant.photo_search(name)
    row_of = photos.photos.row_of()
    sims = []
    for pos, p in enumerate(photos.products):
        if len(sims) >= n or not held_out(p.id) or pos not in row_of:
            continue
        vector = photos.photos.vectors[row_of[pos]][None].astype(np.float32)
        scores, ids = photos.photos.dense.search(vector, 2)
        sims.append(next(float(s) for s, i in zip(scores[0], ids[0]) if i != pos and i >= 0))
    plain = {}
    for colour in [(220, 20, 20), (20, 160, 40), (30, 60, 200), (240, 240, 240), (15, 15, 15), (250, 200, 0)]:
        query = photos.understand(Image.new("RGB", (320, 320), colour))
        scores, _ = photos.photos.dense.search(query.vector[None].astype(np.float32), 1)
        plain[str(colour)] = round(float(scores[0][0]), 3)
    pct = {q: round(float(np.percentile(sims, q)), 3) for q in (0, 1, 5, 50)}
    out = {"catalog_photos": len(row_of), "held_out_queries": len(sims), "held_out_nn_percentiles": pct,
           "held_out_below_threshold": int(sum(s < PHOTO_MIN_SIMILARITY for s in sims)),
           "plain_colour_nn": plain, "threshold": PHOTO_MIN_SIMILARITY}
    print(json.dumps(out, indent=1), flush=True)
    shutil.rmtree(tmp, ignore_errors=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", type=int, default=0, help="held-out photos to measure (0: text only)")
    ap.add_argument("--no-text", action="store_true")
    ap.add_argument("--json", type=Path, help="write the numbers here")
    args = ap.parse_args()
    report = {}
    if not args.no_text:
        report["text"] = text_report()
    if args.photos:
        report["photo"] = photo_report(args.photos)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
