"""A store's own export, end to end through the real CLI (real model, real index): a catalog
without categories searches (issue 17, defect 3)."""

from __future__ import annotations

import json

from tests.shells.test_cli import run_cli


def test_catalog_without_a_category_column_searches(tmp_path):
    """Defect 3: such a catalog built, then every search raised a numpy broadcast traceback."""
    export = tmp_path / "nocat.csv"
    export.write_text("id,title,price,color\n1,Blue ceramic mug,12,blue\n2,Red enamel kettle,45,red\n"
                      "3,Green wool scarf,30,green\n")
    proc = run_cli("search", "red kettle", "--catalog", str(export), "--json", index_dir=tmp_path / "idx")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert json.loads(proc.stdout)["results"][0]["id"] == "2"
    # a type word the catalog cannot name (no categories at all) still answers
    proc = run_cli("search", "jogging shoes", "--catalog", str(export), "--json", index_dir=tmp_path / "idx")
    assert proc.returncode == 0, proc.stderr
