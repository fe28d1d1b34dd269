"""Offline relevance evaluation over judged queries in the WANDS layout (`assistant eval`).

Inputs are two tab-separated files with a header row:

- queries: `query_id`, `query` [, `query_class`] [, `language`: nDCG@k is then also reported per language]
- labels:  [`id`,] `query_id`, `product_id`, `label` where label is Exact/Partial/Irrelevant or 2/1/0

Metric conventions (all pure functions below, all in [0, 1]):

- Gains: Exact = 2, Partial = 1, Irrelevant or unjudged = 0.
- nDCG@k uses *linear* gains, DCG = sum(gain_i / log2(i + 1)) over ranks i = 1..k, and the ideal
  DCG comes from all judged gains of that query sorted best-first (also cut at k).
- recall@100: |relevant (gain >= 1) among the top 100| / |relevant judged for the query|. When a
  query has more than 100 relevant products this cannot reach 1 (see `recall_ceiling`).
- MRR: 1 / rank of the first Exact item within the top 100, 0 if none; averaged over queries that
  have at least one Exact judgement.
- Queries with no relevant judged item are skipped for nDCG/recall/MRR (and counted); every query
  counts for the zero-result rate and latency.

Queries are split into train/dev by a hash of the query id, so the split never changes when files
are reordered or extended: dev when int(sha1(query_id)) % 10 < 3 (about 30 %).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from assistant.errors import ShopperError
from assistant.retrieval.search import MODES

SPLITS = ("all", "train", "dev")
DEV_BUCKETS = 3  # of 10
SEARCH_DEPTH = 100  # results fetched per query: recall@100 and MRR look this deep
LABEL_GAINS = {"exact": 2, "partial": 1, "irrelevant": 0, "2": 2, "1": 1, "0": 0}


# ---------------------------------------------------------------- metrics (pure functions)
def parse_label(value: str) -> int:
    """Graded gain of a WANDS label: 'Exact' -> 2, 'Partial' -> 1, 'Irrelevant' -> 0; '2'/'1'/'0' too.

    Case and surrounding spaces are ignored; anything else raises `ValueError`."""
    key = (value or "").strip().lower()
    if key not in LABEL_GAINS:
        raise ValueError(f"unknown label {value!r} (use Exact/Partial/Irrelevant or 2/1/0)")
    return LABEL_GAINS[key]


def dcg(gains: Sequence[float], k: int | None = None) -> float:
    """Discounted cumulative gain with linear gains: sum of gain_i / log2(i + 1), ranks from 1."""
    gains = list(gains)[:k] if k is not None else list(gains)
    return sum(g / math.log2(i + 1) for i, g in enumerate(gains, start=1))


def ndcg_at_k(ranked_ids: Sequence[str], judgements: dict[str, int], k: int = 10) -> float:
    """nDCG@k of a ranking against graded judgements (product id -> gain; unjudged ids gain 0).

    Linear gains (gain / log2(rank + 1)); the ideal DCG uses all judged gains of the query sorted
    descending and cut at k. Returns 0.0 when the query has no positive judgement."""
    ideal = dcg(sorted((g for g in judgements.values() if g > 0), reverse=True), k)
    if ideal <= 0:
        return 0.0
    return dcg([judgements.get(pid, 0) for pid in ranked_ids[:k]], k) / ideal


def recall_at_k(ranked_ids: Sequence[str], judgements: dict[str, int], k: int = 100) -> float:
    """Fraction of the relevant products (gain >= 1) that appear in the top k. 0.0 if none exist."""
    relevant = {pid for pid, g in judgements.items() if g >= 1}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked_ids[:k])) / len(relevant)


def recall_ceiling(judgements: dict[str, int], k: int = 100) -> float:
    """Best recall@k any ranking can reach: min(1, k / number of relevant products)."""
    n = sum(1 for g in judgements.values() if g >= 1)
    return min(1.0, k / n) if n else 0.0


def reciprocal_rank(ranked_ids: Sequence[str], judgements: dict[str, int], k: int = 100,
                    min_gain: int = 2) -> float:
    """1 / rank of the first product with gain >= min_gain (default: Exact) in the top k, else 0."""
    for rank, pid in enumerate(ranked_ids[:k], start=1):
        if judgements.get(pid, 0) >= min_gain:
            return 1.0 / rank
    return 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks; 0.0 if empty."""
    data = sorted(values)
    if not data:
        return 0.0
    pos = (len(data) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def mean(values: Iterable[float]) -> float:
    """Arithmetic mean; 0.0 for no values."""
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def split_of(query_id: str) -> str:
    """'dev' when int(sha1(query_id)) % 10 < 3, else 'train'. Depends on the id alone."""
    digest = hashlib.sha1(str(query_id).strip().encode("utf-8")).hexdigest()
    return "dev" if int(digest, 16) % 10 < DEV_BUCKETS else "train"


def in_split(query_id: str, split: str) -> bool:
    """Whether a query belongs to `split` ('all', 'train' or 'dev')."""
    if split not in SPLITS:
        raise ShopperError(f"Unknown split '{split}'. Use one of: {', '.join(SPLITS)}.")
    return split == "all" or split_of(query_id) == split


# ---------------------------------------------------------------- reading the judged files
@dataclass
class Query:
    id: str
    text: str
    query_class: str = ""
    language: str = ""


def _read_tsv(path: str | Path, required: Sequence[str], what: str) -> tuple[list[dict[str, str]], Path]:
    path = Path(path)
    if not path.is_file():
        raise ShopperError(f"{what} file not found: {path}")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh, delimiter="\t")
            header = [h.strip() for h in (reader.fieldnames or [])]
            reader.fieldnames = header
            missing = [c for c in required if c not in header]
            if missing:
                hint = (" (the file looks comma-separated; WANDS files are tab-separated)"
                        if len(header) <= 1 and header and "," in header[0] else "")
                raise ShopperError(f"{what} file {path} must be tab-separated with columns "
                                   f"{', '.join(required)}; missing {', '.join(missing)} "
                                   f"(found: {', '.join(header) or 'nothing'}){hint}.")
            rows = []
            for row in reader:
                if None in row:
                    raise ShopperError(f"{what} file {path}, line {reader.line_num}: "
                                       f"more fields than the header.")
                rows.append({k: (v or "").strip() for k, v in row.items()})
    except UnicodeDecodeError as exc:
        raise ShopperError(f"{what} file {path} is not UTF-8 text ({exc.reason}).") from exc
    return rows, path


def load_queries(path: str | Path) -> list[Query]:
    """Queries in file order. Blank query texts are dropped; duplicate ids are an error."""
    rows, path = _read_tsv(path, ("query_id", "query"), "queries")
    queries: list[Query] = []
    seen: set[str] = set()
    for line, row in enumerate(rows, start=2):
        qid, text = row["query_id"], row["query"]
        if not qid:
            raise ShopperError(f"queries file {path}, line {line}: empty query_id.")
        if qid in seen:
            raise ShopperError(f"queries file {path}, line {line}: duplicate query_id {qid!r}.")
        seen.add(qid)
        if text:
            queries.append(Query(qid, text, row.get("query_class", ""), row.get("language", "")))
    if not queries:
        raise ShopperError(f"queries file {path} has no queries.")
    return queries


def load_labels(path: str | Path) -> dict[str, dict[str, int]]:
    """query_id -> {product_id: gain}. A pair judged twice keeps its highest gain."""
    rows, path = _read_tsv(path, ("query_id", "product_id", "label"), "labels")
    labels: dict[str, dict[str, int]] = {}
    for line, row in enumerate(rows, start=2):
        try:
            gain = parse_label(row["label"])
        except ValueError as exc:
            raise ShopperError(f"labels file {path}, line {line}: {exc}.") from exc
        if not row["query_id"] or not row["product_id"]:
            raise ShopperError(f"labels file {path}, line {line}: empty query_id or product_id.")
        judged = labels.setdefault(row["query_id"], {})
        judged[row["product_id"]] = max(gain, judged.get(row["product_id"], 0))
    return labels


def _check_products_file(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / "product.csv"
    if not path.is_file():
        raise ShopperError(f"products file not found: {path}")
    if path.name != "product.csv":
        raise ShopperError(f"--products must be a WANDS product.csv (or its folder), not {path.name}.")
    _read_tsv(path, ("product_id", "product_name"), "products")
    return path


# ---------------------------------------------------------------- running
@dataclass
class ModeMetrics:
    """Aggregated numbers for one ranking mode."""

    mode: str
    ndcg: float
    recall: float
    mrr: float
    zero_result_rate: float
    p50_ms: float
    p95_ms: float
    queries: int  # searched
    judged: int  # with at least one relevant judgement: nDCG and recall average over these
    mrr_queries: int  # with at least one Exact judgement: MRR averages over these
    skipped: int  # searched but without relevant judgements
    per_query: list[dict] = field(default_factory=list, repr=False)
    per_language: dict[str, float] = field(default_factory=dict)  # nDCG@k, when queries have a language

    def to_dict(self, k: int, per_query: bool = False) -> dict:
        out = {f"ndcg@{k}": round(self.ndcg, 4), f"recall@{SEARCH_DEPTH}": round(self.recall, 4),
               "mrr": round(self.mrr, 4), "zero_result_rate": round(self.zero_result_rate, 4),
               "p50_ms": round(self.p50_ms, 2), "p95_ms": round(self.p95_ms, 2),
               "queries": self.queries, "judged_queries": self.judged,
               "mrr_queries": self.mrr_queries, "skipped_no_relevant": self.skipped}
        if self.per_language:
            out[f"ndcg@{k}_per_language"] = {lang: round(v, 4) for lang, v in self.per_language.items()}
        if per_query:
            out["per_query"] = self.per_query
        return out


@dataclass
class EvalReport:
    catalog: str
    split: str
    k: int
    modes: list[str]
    n_queries: int
    n_total_queries: int
    metrics: dict[str, ModeMetrics]
    settings: dict
    seconds: float = 0.0

    def table(self) -> str:
        """One row per mode, fixed-width columns."""
        head = (f"{'mode':<8} {f'nDCG@{self.k}':>8} {f'recall@{SEARCH_DEPTH}':>10} {'MRR':>6} "
                f"{'zero-res':>8} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
        lines = [head, "-" * len(head)]
        for mode in self.modes:
            m = self.metrics[mode]
            lines.append(f"{mode:<8} {m.ndcg:>8.4f} {m.recall:>10.4f} {m.mrr:>6.4f} "
                         f"{m.zero_result_rate:>8.4f} {m.p50_ms:>8.1f} {m.p95_ms:>8.1f} {m.queries:>8}")
        languages = list(dict.fromkeys(lang for mode in self.modes for lang in self.metrics[mode].per_language))
        if languages:  # one more block: nDCG@k per language of the queries
            head = f"{f'nDCG@{self.k}':<8} " + " ".join(f"{lang:>7}" for lang in languages)
            lines += ["", head, "-" * len(head)]
            for mode in self.modes:
                per = self.metrics[mode].per_language
                lines.append(f"{mode:<8} " + " ".join(f"{per[lang]:>7.4f}" if lang in per else f"{'-':>7}"
                                                      for lang in languages))
        return "\n".join(lines)

    def to_dict(self, per_query: bool = True) -> dict:
        return {"settings": self.settings, "seconds": round(self.seconds, 2),
                "metrics": {mode: self.metrics[mode].to_dict(self.k, per_query) for mode in self.modes}}


def parse_modes(text: str | Sequence[str] | None) -> list[str]:
    """'keyword,hybrid' -> ['keyword', 'hybrid']; None or empty -> all modes."""
    if text is None:
        return list(MODES)
    items = text.split(",") if isinstance(text, str) else list(text)
    modes = [m.strip() for m in items if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise ShopperError(f"Unknown mode(s) {', '.join(bad)}. Use some of: {', '.join(MODES)}.")
    return list(dict.fromkeys(modes)) or list(MODES)


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):  # not on every platform
        return None


def hardware() -> dict:
    """The machine, plus its 1/5/15-minute load average: latencies mean little on a busy box."""
    return {"cpu_count": os.cpu_count(), "processor": platform.processor(),
            "machine": platform.machine(), "platform": platform.platform(),
            "python": platform.python_version(), "load_average": _load_average()}


def run_eval(assistant, queries_path: str | Path, labels_path: str | Path, catalog: str = "fashion",
             products: str | Path | None = None, modes: str | Sequence[str] | None = None,
             split: str = "dev", k: int = 10, limit: int | None = None,
             progress: Callable[[str], None] | None = None) -> EvalReport:
    """Search every judged query of `split` in each mode and aggregate the metrics.

    `products` (a WANDS product.csv) is registered as a catalog with `settings.register_path`,
    which adds it to `assistant.settings.catalogs`: pass an Assistant over a settings copy if
    that must not leak. Each mode gets one untimed warm-up search before the timed ones; each
    timed search asks for the top 100 (recall/MRR depth) and nDCG uses its first k."""
    started = time.perf_counter()
    load_before = _load_average()
    say = progress or (lambda _msg: None)
    if split not in SPLITS:
        raise ShopperError(f"Unknown split '{split}'. Use one of: {', '.join(SPLITS)}.")
    if not 1 <= k <= SEARCH_DEPTH:
        raise ShopperError(f"--k must be between 1 and {SEARCH_DEPTH}.")
    if limit is not None and limit < 1:
        raise ShopperError("--limit must be at least 1.")
    modes = parse_modes(modes)
    settings = assistant.settings
    if SEARCH_DEPTH > settings.max_k:
        raise ShopperError(f"evaluation needs max_k >= {SEARCH_DEPTH} (it is {settings.max_k}).")
    if products is not None:
        catalog = settings.register_path(str(_check_products_file(products)))
    else:
        catalog = settings.resolve_catalog(catalog)

    all_queries = load_queries(queries_path)
    labels = load_labels(labels_path)
    queries = [q for q in all_queries if in_split(q.id, split)]
    if limit is not None:
        queries = queries[:limit]
    if not queries:
        raise ShopperError(f"no queries in split '{split}' ({len(all_queries)} queries in the file).")

    say(f"loading catalog '{catalog}'")
    engine = assistant.engine(catalog)
    known_ids = {p.id for p in engine.products}
    judged_ids = {pid for q in queries for pid in labels.get(q.id, {})}
    missing_ids = len(judged_ids - known_ids)
    if judged_ids and missing_ids == len(judged_ids):
        raise ShopperError(f"none of the {len(judged_ids)} judged product ids are in catalog "
                           f"'{catalog}': wrong --catalog or --labels?")

    metrics: dict[str, ModeMetrics] = {}
    for mode in modes:
        assistant.search(queries[0].text, catalog=catalog, k=SEARCH_DEPTH, mode=mode)  # warm-up
        rows: list[dict] = []
        for q in queries:
            t0 = time.perf_counter()
            response = assistant.search(q.text, catalog=catalog, k=SEARCH_DEPTH, mode=mode)
            ms = (time.perf_counter() - t0) * 1000.0
            ranked = [r.product.id for r in response.results]
            judged = labels.get(q.id, {})
            nd, rec = ndcg_at_k(ranked, judged, k), recall_at_k(ranked, judged, SEARCH_DEPTH)
            rr = reciprocal_rank(ranked, judged, SEARCH_DEPTH)
            rows.append({
                "query_id": q.id, "query": q.text, "language": q.language,
                "results": len(ranked), "total": response.total,
                "ms": round(ms, 2), "judged": any(g >= 1 for g in judged.values()),
                "has_exact": any(g >= 2 for g in judged.values()),
                "ndcg": round(nd, 4), "recall": round(rec, 4), "rr": round(rr, 4),
                "_ndcg": nd, "_recall": rec, "_rr": rr,
            })
        judged_rows = [r for r in rows if r["judged"]]
        exact_rows = [r for r in rows if r["has_exact"]]
        latencies = [r["ms"] for r in rows]
        metrics[mode] = ModeMetrics(
            mode=mode,
            ndcg=mean(r["_ndcg"] for r in judged_rows),
            recall=mean(r["_recall"] for r in judged_rows),
            mrr=mean(r["_rr"] for r in exact_rows),
            zero_result_rate=mean(1.0 if r["total"] == 0 else 0.0 for r in rows),
            p50_ms=percentile(latencies, 50), p95_ms=percentile(latencies, 95),
            queries=len(rows), judged=len(judged_rows), mrr_queries=len(exact_rows),
            skipped=len(rows) - len(judged_rows),
            per_query=[{k_: v for k_, v in r.items() if not k_.startswith("_")} for r in rows],
            per_language={lang: mean(r["_ndcg"] for r in judged_rows if r["language"] == lang)
                          for lang in dict.fromkeys(r["language"] for r in judged_rows if r["language"])},
        )
        say(f"{mode}: done ({len(rows)} queries)")

    judged_q = [q for q in queries if any(g >= 1 for g in labels.get(q.id, {}).values())]
    report_settings = {
        "catalog": catalog, "catalog_source": settings.catalogs[catalog].path,
        "model": settings.text_model, "split": split, "n_queries": len(queries),
        "n_queries_in_file": len(all_queries), "k": k, "search_depth": SEARCH_DEPTH,
        "modes": modes, "limit": limit, "queries_path": str(Path(queries_path).resolve()),
        "labels_path": str(Path(labels_path).resolve()),
        "products_path": str(Path(products).resolve()) if products is not None else None,
        "judged_products_missing_from_catalog": missing_ids,
        f"recall@{SEARCH_DEPTH}_ceiling": round(mean(
            recall_ceiling(labels[q.id], SEARCH_DEPTH) for q in judged_q), 4),
        "candidate_k": settings.candidate_k, "rrf_k": settings.rrf_k,
        "num_threads": settings.num_threads,
        "hardware": {**hardware(), "load_average_at_start": load_before},
        "conventions": "gains Exact=2 Partial=1 else 0; nDCG linear gain/log2(rank+1), ideal from "
                       "all judged gains; recall over label>=1; MRR of first Exact over queries "
                       "with an Exact; queries without relevant judgements skipped for those",
    }
    return EvalReport(catalog=catalog, split=split, k=k, modes=modes, n_queries=len(queries),
                      n_total_queries=len(all_queries), metrics=metrics, settings=report_settings,
                      seconds=time.perf_counter() - started)


def check_report_path(path: str | Path | None) -> None:
    """Refuse a `--json` path whose folder is missing before the minutes of evaluation, not after."""
    from assistant.errors import ShopperError

    if path and not Path(path).resolve().parent.is_dir():
        raise ShopperError(f"cannot write {path}: its folder does not exist")


def finish_report(report, headline: str, path: str | Path | None, notes: Sequence[str] = ()) -> int:
    """The eval commands' common ending: headline, table, notes, time, and the JSON when asked."""
    import sys

    print(headline)
    print(report.table())
    for line in notes:
        print(line)
    print(f"({report.seconds:.1f} s)")
    if path:
        write_report(path, report.to_dict())
        print(f"wrote {path}", file=sys.stderr)
    return 0


def write_report(path: str | Path, data: dict) -> None:
    """Write an eval/bench report as JSON; a path that cannot be written is the user's to fix."""
    from assistant.errors import ShopperError

    try:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, ensure_ascii=False)
    except OSError as exc:
        raise ShopperError(f"cannot write {path}: {exc.strerror or exc}") from exc


def overlap_at_k(a: Sequence[str], b: Sequence[str], k: int = 10) -> float:
    """|top-k(a) ∩ top-k(b)| / k: how much two rankings agree on their first k items."""
    return len(set(a[:k]) & set(b[:k])) / k if k else 0.0


def run_multilingual(assistant, path: str | Path, catalog: str = "fashion", k: int = 10,
                     mode: str = "smart") -> dict:
    """Each row holds one query in English and its translations (TSV, first column `en`).
    Reports, per language, the mean overlap of its top-k with the English query's top-k."""
    from assistant.errors import ShopperError

    path = Path(path)
    if not path.is_file():
        raise ShopperError(f"translations file not found: {path}")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if not rows or "en" not in rows[0]:
        raise ShopperError(f"{path}: needs a tab-separated header starting with 'en'")
    languages = [c for c in rows[0] if c != "en"]
    per_language: dict[str, list[float]] = {lang: [] for lang in languages}
    details = []
    for row in rows:
        english = [r.product.id for r in assistant.search(row["en"], catalog=catalog, k=k, mode=mode).results]
        entry = {"en": row["en"]}
        for lang in languages:
            ids = [r.product.id for r in assistant.search(row[lang], catalog=catalog, k=k, mode=mode).results]
            per_language[lang].append(overlap_at_k(english, ids, k))
            entry[lang] = {"query": row[lang], "overlap": per_language[lang][-1]}
        details.append(entry)
    return {"catalog": catalog, "mode": mode, "k": k, "queries": len(rows),
            "overlap": {lang: round(mean(v), 4) for lang, v in per_language.items()},
            "per_query": details}
