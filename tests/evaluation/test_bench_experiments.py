"""The experiment scripts behind docs/photos.md and docs/voice.md still run (tiny sizes: the real
runs are benchmarks, not tests)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_bench(script: str, args: list[str], index_dir: Path, var_dir: Path) -> subprocess.CompletedProcess:
    env = os.environ | {"ASSISTANT_INDEX_DIR": str(index_dir), "ASSISTANT_VAR_DIR": str(var_dir)}
    return subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def test_photo_finetune_experiment_trains_and_reports_held_out_accuracy(fashion, index_dir, tmp_path):
    proc = run_bench("photo_finetune.py", ["--limit", "80", "--start", "16", "--epochs", "2"], index_dir, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    epochs = [line for line in proc.stdout.splitlines() if line.startswith("epoch ")]
    assert len(epochs) == 2 and all("'category'" in e and "'color'" in e for e in epochs), proc.stdout[-1000:]
    cached = list((tmp_path / "photo_finetune").glob("*/maps_before_16.npy"))
    assert cached, "the feature maps are cached for the next run"
    again = run_bench("photo_finetune.py", ["--limit", "80", "--start", "16", "--epochs", "1"], index_dir, tmp_path)
    assert again.returncode == 0 and "feature maps" not in again.stdout  # read from the cache, not recomputed


def test_photo_finetune_refuses_bad_arguments(index_dir, tmp_path):
    proc = run_bench("photo_finetune.py", ["--start", "17"], index_dir, tmp_path)
    assert proc.returncode == 2 and "--start must be 0-16" in proc.stderr


@pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng is missing: run `make system-deps`")
def test_voice_validation_reports_wer_and_top5_per_lead_in(fashion, index_dir, tmp_path):
    out = tmp_path / "val.json"
    proc = run_bench("voice_validation.py", ["--fashion", "3", "--wands", "1", "--lead-in", "0,0.5",
                                             "--json", str(out)], index_dir, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["fashion"] == 3 and report["wands"] == 1 and set(report["runs"]) == {"0.0", "0.5"}
    for run in report["runs"].values():
        assert run["wer_fashion"] <= 0.5 and run["same_top5"].endswith("/3"), run["transcripts"]
        assert len(run["transcripts"]) == 4 and all(heard for _, heard in run["transcripts"])


def test_typo_copy_keeps_ids_and_changes_one_long_word_per_query(tmp_path):
    queries = tmp_path / "query.csv"
    queries.write_text("query_id\tquery\tquery_class\n1\twomens black heels\tHeels\n2\tbra\tBra\n"
                       "3\tnavy blue flip flops\tFlip Flops\n", encoding="utf-8")
    out = tmp_path / "typos.csv"
    proc = run_bench("typos.py", [str(queries), str(out), "--seed", "3"], tmp_path, tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line.split("\t") for line in out.read_text(encoding="utf-8").splitlines()]
    assert lines[0] == ["query_id", "query", "query_class"] and [r[0] for r in lines[1:]] == ["1", "2", "3"]
    before = {"1": "womens black heels", "2": "bra", "3": "navy blue flip flops"}
    for qid, query, _ in lines[1:]:
        changed = [(a, b) for a, b in zip(before[qid].split(), query.split()) if a != b]
        if qid == "2":  # no word of five letters or more: left as it was
            assert query == "bra"
            continue
        assert len(changed) == 1, (before[qid], query)
        typed, slipped = changed[0]
        assert len(typed) >= 5 and slipped[0] == typed[0] and abs(len(slipped) - len(typed)) <= 1
    again = tmp_path / "again.csv"
    run_bench("typos.py", [str(queries), str(again), "--seed", "3"], tmp_path, tmp_path)
    assert again.read_text() == out.read_text(), "the same seed gives the same slips"
