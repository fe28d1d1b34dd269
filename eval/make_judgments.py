"""Turn a query spec (query + intended types/colours/gender/occasion, `|` between alternatives)
into a judged set in the WANDS layout, with the same rule as ../shared/data/fashion-queries:
`Exact` when a product has one of the types, one of the colours and the stated gender / occasion,
`Partial` when only the type matches. Gender follows the catalog's convention there: Men/Women
also accept Unisex products. The spec of OUT_DIR is `eval/<name of OUT_DIR>.spec.tsv`; a spec with
a `language` column (es, fr, ...) keeps it in query.csv and prefixes the query ids with it, so
`assistant eval` reports nDCG@10 per language.

Usage: python eval/make_judgments.py [STYLES_CSV] [OUT_DIR]
  e.g. python eval/make_judgments.py ../shared/data/fashion/styles.csv eval/fashion-synonyms
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(styles: Path, out: Path) -> None:
    with styles.open(newline="", encoding="utf-8") as fh:
        products = list(csv.DictReader(fh))
    with (HERE / f"{out.name}.spec.tsv").open(newline="", encoding="utf-8") as fh:
        spec = list(csv.DictReader(fh, delimiter="\t"))
    out.mkdir(parents=True, exist_ok=True)
    with (out / "query.csv").open("w", newline="", encoding="utf-8") as qf, \
            (out / "label.csv").open("w", newline="", encoding="utf-8") as lf:
        q = csv.writer(qf, delimiter="\t")
        lab = csv.writer(lf, delimiter="\t")
        languages = "language" in (spec[0] if spec else {})
        q.writerow(["query_id", "query", "query_class"] + (["language"] if languages else []))
        lab.writerow(["id", "query_id", "product_id", "label"])
        n = 0
        for number, row in enumerate(spec):
            types = set(row["types"].split("|"))
            qid = f"{row['language']}-{number}" if languages else number
            q.writerow([qid, row["query"], row["types"]] + ([row["language"]] if languages else []))
            for p in products:
                if p["articleType"] not in types:
                    continue
                genders = {row["gender"], "Unisex"} if row["gender"] else None
                exact = ((not row["colour"] or p["baseColour"] in row["colour"].split("|"))
                         and (genders is None or p["gender"] in genders)
                         and (not row["usage"] or p["usage"] == row["usage"]))
                lab.writerow([n, qid, p["id"], "Exact" if exact else "Partial"])
                n += 1
    print(f"{len(spec)} queries, {n} judgments -> {out}")


if __name__ == "__main__":
    root = HERE.parent
    styles = Path(sys.argv[1]) if len(sys.argv) > 1 else root.parent / "shared/data/fashion/styles.csv"
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else HERE / "fashion-paraphrases"
    main(styles, out)
