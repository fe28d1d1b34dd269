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

ROOT = Path(__file__).resolve().parent.parent


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
