"""`assistant eval`: metric functions against hand-computed values, file parsing, the split, and an
end-to-end run over the small WANDS fixture."""

from __future__ import annotations

import json
import math

import pytest

from assistant.core import Assistant
from assistant.errors import ShopperError
from evaluation.search_eval import (dcg, load_labels, load_queries, mean, ndcg_at_k, parse_label,
                                  parse_modes, percentile, recall_at_k, recall_ceiling,
                                  reciprocal_rank, run_eval, split_of)
from assistant.retrieval.search import MODES

from tests.conftest import FIXTURES

WANDS = FIXTURES / "wands"


# ---------------------------------------------------------------- metrics
def test_perfect_ranking_has_ndcg_one():
    judged = {"a": 2, "b": 2, "c": 1, "d": 0}
    assert ndcg_at_k(["a", "b", "c", "d"], judged, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["b", "a", "c"], judged, 10) == pytest.approx(1.0)  # ties in gain: any order


def test_ndcg_of_a_small_ranking_matches_hand_computation():
    # Ranked gains [0, 2, 1]; ideal gains [2, 1] (the irrelevant "x" adds nothing).
    # DCG  = 0/log2(2) + 2/log2(3) + 1/log2(4) = 1.2618595 + 0.5      = 1.7618595
    # IDCG = 2/log2(2) + 1/log2(3)             = 2 + 0.6309298         = 2.6309298
    # nDCG = 1.7618595 / 2.6309298 = 0.6696718
    judged = {"a": 2, "b": 1, "x": 0}
    assert ndcg_at_k(["x", "a", "b"], judged, 10) == pytest.approx(0.6696718, abs=1e-6)
    assert dcg([0, 2, 1]) == pytest.approx(2 / math.log2(3) + 0.5)


def test_ndcg_counts_unjudged_as_zero_and_cuts_at_k():
    judged = {"a": 2, "b": 1}
    # "u" is unjudged (gain 0): same value as the explicit-zero case above.
    assert ndcg_at_k(["u", "a", "b"], judged, 10) == pytest.approx(0.6696718, abs=1e-6)
    # k = 1: only rank 1 counts, gain 0 -> 0; ideal@1 = 2.
    assert ndcg_at_k(["u", "a", "b"], judged, 1) == 0.0
    # Ideal is cut at k too: @1 with "a" first is perfect even though "b" is missing.
    assert ndcg_at_k(["a"], judged, 1) == pytest.approx(1.0)
    assert ndcg_at_k([], judged, 10) == 0.0
    assert ndcg_at_k(["a"], {"a": 0}, 10) == 0.0  # no relevant judgements


def test_recall_and_ceiling():
    judged = {"a": 2, "b": 1, "c": 1, "d": 0}  # three relevant
    assert recall_at_k(["a", "d", "z", "c"], judged, 100) == pytest.approx(2 / 3)
    assert recall_at_k(["a", "d", "z", "c"], judged, 2) == pytest.approx(1 / 3)
    assert recall_at_k(["a", "b", "c"], judged, 100) == pytest.approx(1.0)
    assert recall_at_k(["a"], {"a": 0}, 100) == 0.0
    assert recall_ceiling({str(i): 1 for i in range(250)}, 100) == pytest.approx(0.4)
    assert recall_ceiling(judged, 100) == 1.0


def test_reciprocal_rank_of_first_exact():
    judged = {"p": 1, "e": 2, "f": 2}
    assert reciprocal_rank(["p", "x", "e", "f"], judged, 100) == pytest.approx(1 / 3)  # Partial skipped
    assert reciprocal_rank(["e"], judged, 100) == 1.0
    assert reciprocal_rank(["p", "x"], judged, 100) == 0.0
    assert reciprocal_rank(["x", "x2", "e"], judged, 2) == 0.0  # beyond depth
    assert mean([1.0, 1 / 3, 0.0]) == pytest.approx(4 / 9)
    assert mean([]) == 0.0


def test_percentile_interpolates():
    assert percentile([10, 20, 30, 40], 50) == pytest.approx(25.0)
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 95) == pytest.approx(10.5)
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) == 0.0


@pytest.mark.parametrize("text, gain", [
    ("Exact", 2), ("Partial", 1), ("Irrelevant", 0), ("2", 2), ("1", 1), ("0", 0),
    (" exact ", 2), ("PARTIAL", 1),
])
def test_parse_label(text, gain):
    assert parse_label(text) == gain


@pytest.mark.parametrize("text", ["", "3", "relevant", "-1"])
def test_parse_label_rejects_unknown(text):
    with pytest.raises(ValueError):
        parse_label(text)


# ---------------------------------------------------------------- split
def test_split_is_deterministic_disjoint_and_roughly_thirty_percent():
    ids = [str(i) for i in range(1000)]
    first = {i: split_of(i) for i in ids}
    assert first == {i: split_of(i) for i in reversed(ids)}  # order does not matter
    dev = {i for i, s in first.items() if s == "dev"}
    train = {i for i, s in first.items() if s == "train"}
    assert dev.isdisjoint(train) and dev | train == set(ids)
    assert 0.25 < len(dev) / len(ids) < 0.35
    assert split_of("0") == split_of(" 0 ")  # ids are compared stripped


# ---------------------------------------------------------------- files
def test_fixture_files_parse():
    queries = load_queries(WANDS / "query.csv")
    labels = load_labels(WANDS / "label.csv")
    assert [q.id for q in queries][:2] == ["0", "1"] and queries[0].text == "grey linen sofa"
    assert labels["0"]["1204"] == 2 and labels["0"]["2760"] == 1 and labels["0"]["2611"] == 0


def test_labels_without_id_column_and_numeric_grades(tmp_path):
    path = tmp_path / "label.csv"
    path.write_text("query_id\tproduct_id\tlabel\nq1\tp1\t2\nq1\tp2\t1\nq1\tp2\t0\nq2\tp3\t0\n")
    assert load_labels(path) == {"q1": {"p1": 2, "p2": 1}, "q2": {"p3": 0}}


def test_bad_files_raise_shopper_errors(tmp_path):
    with pytest.raises(ShopperError, match="not found"):
        load_queries(tmp_path / "missing.csv")
    commas = tmp_path / "commas.csv"
    commas.write_text("query_id,query\n1,red shoes\n")
    with pytest.raises(ShopperError, match="comma-separated"):
        load_queries(commas)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("query_id\tproduct_id\tgrade\n1\t2\tExact\n")
    with pytest.raises(ShopperError, match="missing label"):
        load_labels(wrong)
    bad = tmp_path / "bad.csv"
    bad.write_text("query_id\tproduct_id\tlabel\n1\t2\tGood\n")
    with pytest.raises(ShopperError, match="line 2"):
        load_labels(bad)
    with pytest.raises(ShopperError, match="Unknown mode"):
        parse_modes("keyword,fuzzy")
    assert parse_modes(None) == list(MODES) and parse_modes("dense, keyword") == ["dense", "keyword"]


# ---------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def wands_assistant(settings):
    """An Assistant over a copy of the session settings: register_path must not leak catalogs."""
    return Assistant(settings.model_copy(update={"catalogs": dict(settings.catalogs)}), progress=False)


def test_end_to_end_on_wands_fixture(wands_assistant, settings, tmp_path):
    report = run_eval(wands_assistant, WANDS / "query.csv", WANDS / "label.csv",
                      products=WANDS / "product.csv", split="all")
    assert "wands" not in settings.catalogs  # the session settings are untouched
    assert report.catalog == "wands" and report.n_queries == 9
    assert set(report.metrics) == set(MODES)
    for mode, m in report.metrics.items():
        for value in (m.ndcg, m.recall, m.mrr, m.zero_result_rate):
            assert 0.0 <= value <= 1.0, (mode, value)
        assert m.queries == 9 and m.judged == 9 and m.skipped == 0
        assert 0 < m.p50_ms <= m.p95_ms
    assert report.metrics["hybrid"].ndcg > 0 and report.metrics["smart"].ndcg > 0
    data = json.loads(json.dumps(report.to_dict()))
    assert data["settings"]["split"] == "all" and data["settings"]["hardware"]["cpu_count"]
    assert data["metrics"]["hybrid"]["ndcg@10"] == round(report.metrics["hybrid"].ndcg, 4)
    assert "hybrid" in report.table() and "nDCG@10" in report.table()


def test_split_and_limit_select_queries(wands_assistant):
    dev_ids = {q.id for q in load_queries(WANDS / "query.csv") if split_of(q.id) == "dev"}
    kwargs = dict(products=WANDS / "product.csv", modes="keyword")
    if dev_ids:
        report = run_eval(wands_assistant, WANDS / "query.csv", WANDS / "label.csv", split="dev", **kwargs)
        assert report.n_queries == len(dev_ids)
    report = run_eval(wands_assistant, WANDS / "query.csv", WANDS / "label.csv", split="train",
                      limit=2, **kwargs)
    assert report.n_queries == 2 and list(report.metrics) == ["keyword"]
    with pytest.raises(ShopperError, match="split"):
        run_eval(wands_assistant, WANDS / "query.csv", WANDS / "label.csv", split="test", **kwargs)


def test_per_language_ndcg_when_queries_have_a_language(wands_assistant, tmp_path):
    """A `language` column splits nDCG@k by language: each language's number is the mean over its
    own queries, the block appears in the table and the JSON, and files without it are unchanged."""
    lines = (WANDS / "query.csv").read_text(encoding="utf-8").splitlines()
    tagged = [lines[0] + "\tlanguage"] + [f"{line}\t{'es' if i % 3 == 0 else 'en'}"
                                          for i, line in enumerate(lines[1:])]
    (tmp_path / "query.csv").write_text("\n".join(tagged) + "\n", encoding="utf-8")
    kwargs = dict(products=WANDS / "product.csv", modes="keyword", split="all")
    report = run_eval(wands_assistant, tmp_path / "query.csv", WANDS / "label.csv", **kwargs)
    m = report.metrics["keyword"]
    assert set(m.per_language) == {"en", "es"}
    for lang in ("en", "es"):
        mine = [q["ndcg"] for q in m.per_query if q["language"] == lang]
        assert m.per_language[lang] == pytest.approx(sum(mine) / len(mine), abs=1e-4)
    assert "es" in report.table().splitlines()[-3] and report.table().splitlines()[-1].startswith("keyword")
    assert report.to_dict()["metrics"]["keyword"]["ndcg@10_per_language"]["es"] == round(m.per_language["es"], 4)
    plain = run_eval(wands_assistant, WANDS / "query.csv", WANDS / "label.csv", **kwargs)
    assert plain.metrics["keyword"].per_language == {} and "ndcg@10_per_language" not in json.dumps(plain.to_dict())
