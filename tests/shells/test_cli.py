"""The `assistant` command as a user runs it: real process, real models, JSON out."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def run_cli(*args: str, index_dir, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, ASSISTANT_INDEX_DIR=str(index_dir), HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "assistant", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_search_json_has_the_promised_fields(index_dir, demo):
    proc = run_cli("search", "grey sofa under $900", "--catalog", "demo", "--k", "5", "--json",
                   index_dir=index_dir)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["filters"] and data["parsed"]["price_max"] == 900
    assert len(data["results"]) == 5
    for r in data["results"]:
        assert {"id", "title", "score", "category", "price", "image", "why"} <= r.keys()
        assert r["price"] <= 900 and r["why"]


def test_fashion_search_json(index_dir, fashion):
    proc = run_cli("search", "women's black heels", "--catalog", "fashion", "--json", index_dir=index_dir)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert len(data["results"]) == 10
    assert all(r["image"] and r["why"] and r["category"].endswith("Heels") for r in data["results"])
    assert data["took_ms"] > 0  # speed is measured by `assistant eval`, not asserted here


def test_search_a_store_export_by_path(tmp_path):
    export = tmp_path / "mystore.csv"
    export.write_text("id,title,price,color,category\n1,Blue ceramic mug,12,blue,Kitchen > Mugs\n"
                      "2,Red enamel kettle,45,red,Kitchen > Kettles\n3,,5,,\n")
    proc = run_cli("search", "kettle", "--catalog", str(export), "--json", index_dir=tmp_path / "idx")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["results"][0]["id"] == "2"
    assert "line 4" in proc.stderr  # the bad row is reported, not silently dropped


@pytest.mark.parametrize("args, message", [
    (("search", "sofa", "--catalog", "nope"), "Unknown catalog"),
    (("search", "   ", "--catalog", "demo"), "Please type"),
    (("search", "sofa", "--catalog", "demo", "--k", "0"), "k must be"),
    (("build", "--catalog", "nope"), "Unknown catalog"),
])
def test_bad_input_exits_nonzero_with_one_line(index_dir, demo, args, message):
    proc = run_cli(*args, index_dir=index_dir)
    assert proc.returncode == 2
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert lines[-1].startswith("error:") and message in lines[-1]
    assert "Traceback" not in proc.stderr


def test_catalogs_lists_index_status(index_dir, demo):
    proc = run_cli("catalogs", index_dir=index_dir)
    assert proc.returncode == 0
    assert any(line.startswith("demo") and "indexed" in line for line in proc.stdout.splitlines())


@pytest.mark.parametrize("bounds, message", [
    (("--price-max", "-1"), "The highest price must be a number of 0 or more"),
    (("--price-min", "-5"), "The lowest price must be a number of 0 or more"),
    (("--price-max", "nan"), "The highest price must be a number of 0 or more"),
    (("--price-min", "inf"), "The lowest price must be a number of 0 or more"),
    (("--price-min", "500", "--price-max", "100"), "The lowest price ($500) is above the highest ($100)"),
])
def test_impossible_price_bounds_are_refused(index_dir, demo, bounds, message):
    """Issue 17, defect 9: these used to exit 0 with chips such as "under $-1" and "$500-$100"."""
    proc = run_cli("search", "sofa", "--catalog", "demo", *bounds, index_dir=index_dir)
    assert proc.returncode == 2, proc.stdout
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], proc.stderr


def test_impossible_price_range_in_the_text_is_refused(index_dir, demo):
    """The same check for bounds read from the words ("over 500 under 100"), which gave 0 results
    under a "$500-$100" chip."""
    proc = run_cli("search", "sofa over 500 under 100", "--catalog", "demo", index_dir=index_dir)
    assert proc.returncode == 2 and proc.stderr.startswith("error: The lowest price ($500) is above"), proc.stdout


def test_equal_and_open_price_bounds_still_search(index_dir, demo):
    proc = run_cli("search", "sofa", "--catalog", "demo", "--price-min", "0", "--price-max", "899",
                   "--json", index_dir=index_dir)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["results"] and all(0 <= r["price"] <= 899 for r in data["results"])
