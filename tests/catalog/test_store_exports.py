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


def test_a_spreadsheet_saved_in_a_comma_decimal_locale_searches(tmp_path):
    """Excel in France, Germany, Spain... saves "CSV" with semicolons, because the comma is the
    decimal mark; headers are written as people name them ("Product Name"), the file name may
    carry accents. The catalog reads, keeps its currency, and reports the rows it skips."""
    export = tmp_path / "ma boutique (été).csv"
    export.write_bytes("\ufeffSKU;Product Name;Price;Colour;Vendor\r\n"
                       "A1;Chaise longue en velours;€1.299,00;green;Maison Lumière\r\n"
                       'A2;"Lampe de chevet ""Luna""; laiton";49,90 €;white;Atelier Nord\r\n'
                       "A2;Duplicate id lamp;12;red;Atelier Nord\r\n"
                       "A3;Tapis berbère;abc;beige;Maison Lumière\r\n".encode("utf-8"))
    proc = run_cli("search", "brass bedside lamp", "--catalog", str(export), "--json", index_dir=tmp_path / "idx")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["catalog"] == "ma-boutique-ete"
    products = {r["id"]: r for r in out["results"]}
    assert set(products) == {"A1", "A2"}, products
    assert products["A2"]["title"] == 'Lampe de chevet "Luna"; laiton'
    assert products["A1"]["price"] == 1299.0 and products["A1"]["currency"] == "EUR"
    assert products["A2"]["brand"] == "Atelier Nord" and products["A2"]["colors"] == ["white"]
    assert "line 4: duplicate id 'A2'" in proc.stderr and "line 5: price: not a price" in proc.stderr
    text = run_cli("search", "lamp under 100", "--catalog", str(export), index_dir=tmp_path / "idx")
    # the price chip, the card line and the "why" all speak the catalog's currency
    assert "1 match in" in text.stdout and "[under EUR 100]" in text.stdout, text.stdout
    assert "(EUR 49.90)" in text.stdout and "is eur 49.9" in text.stdout.lower() and "$" not in text.stdout, text.stdout


def test_headers_name_fields_whatever_their_case_spacing_or_delimiter(tmp_path):
    """"Item ID", "PRODUCT-NAME", "Product Type" are id, title and category; a column the schema
    does not know keeps its header's words as the attribute's name (the detail shows it)."""
    from catalog.adapters import load_table

    export = tmp_path / "shop.csv"
    export.write_text('Item ID|PRODUCT-NAME|Product Type|"Assembly Required"\n7|Oak desk, two drawers|Desks|yes\n')
    [product] = load_table(export).products
    assert (product.id, product.title, product.category) == ("7", "Oak desk, two drawers", ["Desks"])
    assert product.attributes == {"assembly required": "yes"}


@pytest.mark.parametrize("name, content, message", [
    ("empty.csv", b"", "no product rows: the file is empty or has only a header"),
    ("header only.csv", b"sku;title;price\r\n", "no product rows: the file is empty or has only a header"),
    ("titles.csv", b"title,price\nRed mug,5\nBlue mug,6\n", "has no id column (its header: title, price)"),
    ("stock.xlsx", b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xff\xfe", "is a spreadsheet workbook"),
    ("stock.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00", "save it as \"CSV UTF-8\""),  # an old .xls renamed
])
def test_an_export_that_cannot_be_a_catalog_says_what_to_do_in_one_line(tmp_path, name, content, message):
    export = tmp_path / name
    export.write_bytes(content)
    proc = run_cli("search", "red mug", "--catalog", str(export), index_dir=tmp_path / "idx")
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 2 and len(errors) == 1 and message in errors[0], proc.stderr[-800:]
    assert "Traceback" not in proc.stderr and not list((tmp_path / "idx").glob("*/manifest.json"))
