"""Write a copy of a judged query file with one typing slip in one word of each query, to measure
how search holds up to typos (same query ids, so the original label.csv still applies).

Slips are the four a keyboard makes: a dropped, a doubled, a swapped or a wrong letter, in a word
of five or more letters, never its first letter.

Usage: python bench/typos.py QUERY_CSV OUT_CSV [--seed N]
then:  assistant eval --queries OUT_CSV --labels LABEL_CSV --split all
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path


def slip(word: str, rng: random.Random) -> str:
    """The word with one slip that changes it (swapping "ee" or retyping a letter would not)."""
    for _ in range(20):
        slipped = _one_slip(word, rng)
        if slipped != word:
            return slipped
    return word[:1] + word[2:]


def _one_slip(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["drop", "double", "swap", "wrong"])
    if kind == "drop":
        return word[:i] + word[i + 1:]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word[:i] + rng.choice("aeioustrnl") + word[i + 1:]


def with_typos(rows: list[dict], seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for row in rows:
        words = row["query"].split()
        long_words = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
        if long_words:
            i = rng.choice(long_words)
            words[i] = slip(words[i], rng)
        out.append({**row, "query": " ".join(words)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("queries", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    with args.queries.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if not rows:
        raise SystemExit(f"{args.queries}: no queries")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(with_typos(rows, args.seed))
    print(f"{len(rows)} queries with typos -> {args.out}")


if __name__ == "__main__":
    main()
