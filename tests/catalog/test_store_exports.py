"""A store's own export, end to end through the real CLI (real model, real index): a catalog
without categories searches (issue 17, defect 3); Merchant feeds and Shopify exports search."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import FIXTURES
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


@pytest.mark.parametrize("fixture, query, top, price, reported", [
    ("merchant_feed.tsv", "waterproof hiking boots", "TR-1001-42", 119.0, "line 5: price: negative"),
    ("merchant_feed.xml", "down parka with a hood", "FJ-PARKA-01", 1049.0, "item 3: title"),
    ("shopify_products.csv", "linen shirt", "relaxed-linen-shirt", 68.0, "line 10: Variant Price: negative"),
])
def test_store_formats_search_end_to_end(tmp_path, fixture, query, top, price, reported):
    """Merchant TSV/XML and a Shopify export through the real CLI, under an odd name and
    extension (the format is told from the content)."""
    export = tmp_path / f"My Store export ({fixture.split('.')[0]}).txt"
    shutil.copy(FIXTURES / "stores" / fixture, export)
    proc = run_cli("search", query, "--catalog", str(export), "--json", index_dir=tmp_path / "idx")
    assert proc.returncode == 0, proc.stderr
    first = json.loads(proc.stdout)["results"][0]
    assert (first["id"], first["price"]) == (top, price)
    assert reported in proc.stderr and "Traceback" not in proc.stderr
