"""The formats stores export (issue 17): a Google Merchant Center feed (tab-separated and RSS XML
with the g: namespace) and a Shopify products CSV (rows per Handle folded into one product).
Real sample files in tests/fixtures/stores, each with bad rows that must be reported."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from assistant.errors import CatalogError
from catalog.adapters import load_source
from catalog.formats import detect_kind
from catalog.html_text import strip_html
from catalog.merchant import load_merchant
from catalog.shopify import load_shopify
from tests.conftest import FIXTURES

STORES = FIXTURES / "stores"


def test_merchant_tsv_maps_attributes_and_reports_the_bad_row():
    report = load_merchant(STORES / "merchant_feed.tsv")
    by_id = {p.id: p for p in report.products}
    assert list(by_id) == ["TR-1001-42", "RN-220-38", "KD-310", "BG-12"]
    boot = by_id["TR-1001-42"]
    assert (boot.title, boot.brand, boot.colors, boot.gender) == (
        "Trailblazer Waterproof Hiking Boot", "Northpeak", ["Brown"], "Men")
    assert boot.category == ["Apparel", "Shoes", "Boots"]
    assert (boot.price, boot.currency, boot.attributes["regular_price"]) == (119.0, "USD", "149.00")  # the sale price
    assert boot.image == "https://cdn.example.com/img/tr-1001.jpg"
    assert boot.attributes["size"] == "42" and boot.attributes["availability"] == "in stock"
    assert boot.attributes["link"] == "https://shop.example.com/p/trailblazer"
    assert "tr-1001-sole.jpg" in boot.attributes["additional_image_link"]
    assert by_id["RN-220-38"].colors == ["Black", "White"] and by_id["RN-220-38"].price == 129.95
    assert by_id["KD-310"].gender == "Girls"  # female + kids
    assert [(e.line, "negative" in e.reason) for e in report.errors] == [(5, True)]


def test_merchant_xml_feed_reads_g_namespace_items_and_reports_by_item():
    report = load_merchant(STORES / "merchant_feed.xml")
    by_id = {p.id: p for p in report.products}
    assert list(by_id) == ["FJ-PARKA-01", "FJ-TRAIL-38", "FJ-GLOVE-05"]
    parka = by_id["FJ-PARKA-01"]
    assert (parka.price, parka.currency) == (1049.0, "EUR")  # European "1.049,00 EUR"
    assert parka.description == "800-fill goose down parka with a storm hood & taped seams."
    assert parka.category == ["Apparel", "Outerwear", "Parkas"] and parka.gender == "Men"
    assert parka.attributes["additional_image_link"].count("https://") == 2
    assert parka.attributes["shipping"] == "country: DE; price: 4.95 EUR"  # nested, not the item price
    trail = by_id["FJ-TRAIL-38"]  # plain RSS <title>/<link> next to g: attributes
    assert (trail.title, trail.price, trail.colors) == ("Fjell Trail Running Shoe", 99.0, ["Blue", "Orange"])
    assert [str(e) for e in report.errors] == ["item 3: title: Value error, must not be empty"]


def test_shopify_rows_fold_into_one_product_per_handle_with_variants_and_images():
    report = load_shopify(STORES / "shopify_products.csv")
    by_id = {p.id: p for p in report.products}
    assert list(by_id) == ["relaxed-linen-shirt", "everyday-canvas-sneaker", "chunky-wool-throw"]
    shirt = by_id["relaxed-linen-shirt"]
    assert shirt.title == "Relaxed Linen Shirt" and shirt.brand == "Coastline Apparel"
    assert shirt.description == ("Breathable European linen shirt, garment-dyed for a soft hand.\n"
                                 "Relaxed fit\nMother-of-pearl buttons")
    assert shirt.category == ["Apparel & Accessories", "Clothing", "Shirts & Tops", "Shirts"]
    assert shirt.colors == ["White", "Navy"] and shirt.attributes["sizes"] == "S, M, L"
    assert shirt.price == 68.0 and shirt.attributes["compare_at_price"] == "85.00"
    assert shirt.gender == "Men"
    assert shirt.image.endswith("linen-shirt-white.jpg")
    assert [Path(u).name for u in shirt.attributes["images"].split()] == [
        "linen-shirt-white.jpg", "linen-shirt-detail.jpg", "linen-shirt-navy.jpg"]
    variants = json.loads(shirt.attributes["variants"])
    assert [(v["sku"], v["options"], v["price"]) for v in variants] == [
        ("CL-LIN-S-WH", {"Size": "S", "Color": "White"}, 68.0),
        ("CL-LIN-M-WH", {"Size": "M", "Color": "White"}, 68.0),
        ("CL-LIN-L-NV", {"Size": "L", "Color": "Navy"}, 72.0)]
    sneaker = by_id["everyday-canvas-sneaker"]
    assert sneaker.attributes["sizes"] == "40, 42"  # the -59.00 variant is left out and reported
    assert sneaker.description.endswith("vulcanised rubber sole – a classic low-top.")  # no <style> text
    assert len(sneaker.attributes["images"].split()) == 2
    throw = by_id["chunky-wool-throw"]
    assert throw.price == 1129.0 and "sizes" not in throw.attributes and "title" not in throw.attributes
    errors = {e.line: e.reason for e in report.errors}
    assert sorted(errors) == [10, 14, 15]
    assert "negative" in errors[10] and "not merged" in errors[14] and "not for sale" in errors[15]


def test_html_is_stripped_to_text():
    assert strip_html("<p>Soft <b>merino</b> &amp; silk</p><script>x()</script><p>2nd</p>") == "Soft merino & silk\n2nd"
    assert strip_html("  plain 5 < 6 text ") == "plain 5 < 6 text"


def test_format_is_told_from_the_content_not_the_extension(tmp_path: Path):
    for name, kind in [("merchant_feed.tsv", "merchant"), ("merchant_feed.xml", "merchant"),
                       ("shopify_products.csv", "shopify")]:
        renamed = tmp_path / f"export-{kind}-{name.split('.')[-1]}.txt"
        shutil.copy(STORES / name, renamed)
        assert detect_kind(renamed) == kind
        report = load_source(kind, renamed)
        assert report.products and report.errors
    assert detect_kind(FIXTURES / "wands" / "product.csv") == "wands"
    (tmp_path / "plain.csv").write_text("sku,name,price\n1,Mug,3\n")
    assert detect_kind(tmp_path / "plain.csv") == "table"
    (tmp_path / "other.xml").write_text("<?xml version='1.0'?><catalog><product/></catalog>")
    with pytest.raises(CatalogError, match="not a Google Merchant Center feed"):
        detect_kind(tmp_path / "other.xml")


def test_xml_bomb_is_refused_quickly(tmp_path: Path):
    """Billion laughs: ten levels of ten entities would expand to 10^10 'lol's."""
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)]
    bomb = tmp_path / "feed.xml"
    bomb.write_text('<?xml version="1.0"?>\n<!DOCTYPE rss [' + "".join(levels) + ']>\n'
                    '<rss xmlns:g="http://base.google.com/ns/1.0"><channel><item><g:id>1</g:id>'
                    '<g:title>&lol9;</g:title><g:price>1 USD</g:price></item></channel></rss>')
    assert detect_kind(bomb) == "merchant"
    started = time.monotonic()
    with pytest.raises(CatalogError, match="declares entities"):
        load_merchant(bomb)
    assert time.monotonic() - started < 5


def test_broken_xml_is_refused_whole_with_where(tmp_path: Path):
    feed = tmp_path / "feed.xml"
    feed.write_text((STORES / "merchant_feed.xml").read_text()[:1500])  # cut mid-way
    with pytest.raises(CatalogError, match="not well-formed XML .*line"):
        load_merchant(feed)


def test_an_endless_tag_fails_fast_with_bounded_memory(tmp_path: Path):
    """Expat keeps an unfinished tag (a 50 MB attribute) in memory: refused after 4M characters."""
    feed = tmp_path / "feed.xml"
    with feed.open("w") as fh:
        fh.write('<rss xmlns:g="http://base.google.com/ns/1.0"><channel><item><g:id>1</g:id><g:title x="')
        for _ in range(50):
            fh.write("z" * 1_000_000)
        fh.write('">t</g:title></item></channel></rss>')
    started = time.monotonic()
    with pytest.raises(CatalogError, match="a tag runs past"):
        load_merchant(feed)
    assert time.monotonic() - started < 5
