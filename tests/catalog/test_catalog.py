"""Adapters: every source becomes Products; bad rows are reported with line numbers."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from catalog.adapters import fashion_brands, load_fashion, load_table, load_wands, parse_wands_features
from tests.conftest import FIXTURES, ROOT

DEMO = ROOT / "catalog" / "demo" / "products.jsonl"


def test_demo_catalog_is_rich_enough_to_shop():
    report = load_table(DEMO)
    assert report.errors == []
    products = report.products
    assert len(products) >= 150
    leaves = Counter(p.leaf_category for p in products)
    assert len(leaves) >= 8
    assert all(p.price is not None and p.price > 0 for p in products)
    assert all(p.colors and p.brand and p.description for p in products)
    assert len({p.id for p in products}) == len(products)


def test_wands_fixture_parses_features_into_fields():
    report = load_wands(FIXTURES / "wands" / "product.csv")
    assert report.errors == []
    assert len(report.products) >= 30
    by_id = {p.id: p for p in report.products}
    sofa = by_id["1377"]
    assert sofa.colors == ["light gray"]
    assert sofa.attributes["style"] == "mid-century modern"
    assert sofa.category[-1] == "Sofas"
    assert sofa.price is None  # WANDS has no prices; none are invented
    assert any(p.material for p in report.products)
    assert any(p.rating is None for p in report.products)


def test_wands_feature_string_parsing_strips_spaces_and_keeps_first():
    assert parse_wands_features("a:1|color : gray| b :x|a:2|junk") == {"a": "1", "color": "gray", "b": "x"}


def test_bad_jsonl_rows_are_reported_with_line_numbers(tmp_path: Path):
    rows = [
        {"id": "1", "title": "Good lamp", "price": 20, "color": "red"},
        "{not json",
        {"id": "2", "title": "   "},
        {"id": "3", "title": "Negative", "price": -5},
        {"id": "1", "title": "Duplicate id"},
        {"id": "4", "title": "Bad price", "price": "abc"},
        {"sku": "5", "name": "Aliased columns", "colour": "blue, white", "category": "Home > Lamps"},
    ]
    path = tmp_path / "store.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    report = load_table(path)
    assert [p.id for p in report.products] == ["1", "5"]
    assert [e.line for e in report.errors] == [2, 3, 4, 5, 6]
    assert "duplicate" in str(report.errors[3])
    assert report.summary().endswith("2 products loaded, 5 rows skipped")
    aliased = report.products[1]
    assert aliased.colors == ["blue", "white"] and aliased.category == ["Home", "Lamps"]


def test_bad_csv_rows_are_reported(tmp_path: Path):
    path = tmp_path / "store.csv"
    path.write_text("id,title,price,material\n1,Oak table,120.50,oak\n2,,10,\n3,Chair,n/a,wood\n")
    report = load_table(path)
    assert [p.id for p in report.products] == ["1"]
    assert [e.line for e in report.errors] == [3, 4]
    assert report.products[0].material == "oak" and report.products[0].price == 120.5


def test_fashion_brands_come_only_from_repeated_title_prefixes():
    titles = ["Puma Men Grey T-shirt", "Puma Women Shoes", "Puma Men Cap", "Solo Men Shirt"]
    assert fashion_brands(titles) == {"Puma"}


def test_fashion_adapter_reads_real_labels(settings):
    folder = Path(settings.catalogs["fashion"].path)
    if not (folder / "styles.csv").exists():
        pytest.skip("fashion data not present")
    report = load_fashion(folder)
    assert len(report.products) == 8983 and not report.errors
    assert all(p.price is None for p in report.products)
    with_images = [p for p in report.products if p.image]
    assert len(with_images) == 8983 and Path(with_images[0].image).is_absolute()
    assert sum(1 for p in report.products if p.brand) > 7000
