"""Snapshot of ranked output: every result's id, score, signals, the facets, relaxation and
preferences, for ~170 judged fashion queries (4 modes, strict, explicit filters), `similar`, the
demo catalog, and ~80 photo queries (with words, removed chips, filters) on a 240-photo slice.
Two snapshots taken before and after a refactor of the ranking must be equal (`cmp A B`).

Usage (from a checkout): .venv/bin/python bench/ranking_snapshot.py OUT.json [text|photo|all] [WORKDIR]
WORKDIR (default var/snapshot) holds the photo slice and its indexes; reuse it for both runs.
"""
import csv, json, os, sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)
from assistant.config import settings_from_env
from assistant.core import Assistant
from assistant.retrieval.search import Filters

out_path, what = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "all")
work = Path(sys.argv[3] if len(sys.argv) > 3 else ROOT / "var" / "snapshot").resolve()


def dump(resp):
    return {"results": [r.to_dict() for r in resp.results], "total": resp.total,
            "facets": resp.facets, "relaxed": resp.relaxed, "mode": resp.mode,
            "filters": resp.filters.__dict__, "preferences": resp.preferences.__dict__,
            "exact_total": resp.exact_total, "recognised": resp.recognised,
            "query": resp.query.to_dict()}


out = {}
STEP = {"fashion-queries": 4, "fashion-synonyms": 6, "fashion-paraphrases": 8}
if what in ("text", "all"):
    a = Assistant(settings_from_env(), progress=False)
    queries = []
    for f in (str(a.settings.data_dir / "fashion-queries" / "query.csv"), "eval/fashion-unseen/query.csv",
              "eval/fashion-synonyms/query.csv", "eval/fashion-paraphrases/query.csv"):
        with open(f, newline="") as fh:
            rows = [r["query"] for r in csv.DictReader(fh, delimiter="\t")]
            queries += rows[::STEP.get(Path(f).parent.name, 1)]
    queries += ["", "red", "under $30", "cheapest black heels for women", "newest watches",
                "best rated sunglasses for men", "purple leather party heels for boys under $5",
                "shoes not black", "t-shirts without stripes", "green formal sarees for men"]
    extra = [Filters(genders=["Women"]), Filters(colors=["Black"], price_max=40.0),
             Filters(categories=["Heels"], genders=["Boys"]), Filters(exclude=["leather"]),
             Filters(occasions=["Party"], materials=["nothing"])]
    for i, q in enumerate(queries):
        for mode in ("keyword", "dense", "hybrid", "smart"):
            if not q and mode != "smart":
                continue
            out[f"fashion|{mode}|{q}"] = dump(a.engine("fashion").search(q, k=20, mode=mode))
        if i % 5 == 0:
            out[f"fashion|strict|{q}"] = dump(a.engine("fashion").search(q, k=20, strict=True))
            f = extra[(i // 5) % len(extra)]
            out[f"fashion|filters{(i // 5) % len(extra)}|{q}"] = dump(a.search(q or "x", catalog="fashion", k=20, filters=f))
    eng = a.engine("fashion")
    for p in eng.products[::400]:
        out[f"fashion|similar|{p.id}"] = dump(eng.similar(p.id, k=10))
        out[f"fashion|similarf|{p.id}"] = dump(eng.similar(p.id, k=10, filters=Filters(genders=["Women"])))
    for q in ["grey sofa under $1000", "sofa without arms", "oak dining table", "linen",
              "cheapest lamp", "blue velvet armchair not leather", "rug 5x8", "outdoor chair for kids"]:
        for mode in ("keyword", "dense", "hybrid", "smart"):
            out[f"demo|{mode}|{q}"] = dump(a.search(q, catalog="demo", k=20, mode=mode))
        out[f"demo|strict|{q}"] = dump(a.search(q, catalog="demo", k=20, strict=True))

if what in ("photo", "all"):
    from tests.conftest import fashion_photo_rows
    base = settings_from_env()
    folder = Path(base.catalogs["fashion"].path)
    rows = fashion_photo_rows(folder, ("Tshirts", "Heels", "Watches", "Handbags", "Casual Shoes",
                                       "Sunglasses", "Jeans", "Backpacks"), 30)
    path = work / "photoshop.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    settings = settings_from_env(index_dir=work / "indexes")
    a = Assistant(settings, progress=False)
    name = settings.register_path(str(path))
    ps = a.photo_search(name)
    texts = [None, "in blue", "under $50", "not leather", "for men", "red heels", "like this but black",
             "casual", "watches for women"]
    for j, row in enumerate(range(0, len(ps.photos.rows), 3)):
        q = ps.understand_vectors(ps.photos.vectors[row], ps.photos.colours[row])
        pid = ps.products[int(ps.photos.rows[row])].id
        t = texts[j % len(texts)]
        out[f"photo|{pid}|plain"] = dump(ps.search(q, k=20))
        out[f"photo|{pid}|{t}"] = dump(ps.search(q, text=t, k=20))
        if j % 4 == 0:
            best = q.best("color")
            out[f"photo|{pid}|drop"] = dump(ps.search(q, k=20, drop={best[0]} if best else set()))
            out[f"photo|{pid}|filters"] = dump(ps.search(q, k=20, filters=Filters(genders=["Men"])))
            out[f"photo|{pid}|filters2"] = dump(ps.search(q, text="under $20", k=20,
                                                          filters=Filters(categories=["Nothing"])))
            out[f"photo|{pid}|exclude"] = dump(ps.search(q, k=20, exclude_ids={pid}))

Path(out_path).write_text(json.dumps(out, indent=0, sort_keys=True, default=str))
print(len(out), "responses written to", out_path)
