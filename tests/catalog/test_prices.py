"""Prices from a store's export are read correctly or reported, never silently wrong
(issue 17, defect 5: -5 became $5.00, 1e3 $13.00, "1.299,00" $1.30, JSON Infinity $inf)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from catalog.adapters import load_table
from catalog.prices import parse_price


@pytest.mark.parametrize("raw, amount, currency", [
    ("12", 12.0, ""), (12, 12.0, ""), (12.5, 12.5, ""), ("1e3", 1000.0, ""), ("0", 0.0, ""),
    ("15.00 USD", 15.0, "USD"), ("USD 15.00", 15.0, "USD"), ("$15", 15.0, ""), ("€ 9,99", 9.99, "EUR"),
    ("1,299.00", 1299.0, ""), ("1.299,00", 1299.0, ""), ("1.299,00 EUR", 1299.0, "EUR"),
    ("1,299", 1299.0, ""), ("12,50", 12.5, ""), ("1 299,00 €", 1299.0, "EUR"), ("1'299.50", 1299.5, ""),
    ("£1,234,567.89", 1234567.89, "GBP"), ("2.345.678", 2345678.0, ""), (" 7.5 ", 7.5, ""),
])
def test_prices_parse_in_the_forms_stores_write(raw, amount, currency):
    assert parse_price(raw) == (pytest.approx(amount), currency)


@pytest.mark.parametrize("raw, reason", [
    ("-5", "negative"), (-5, "negative"), ("$-5.00", "negative"), ("nan", "not a finite"),
    (float("nan"), "not a finite"), (float("inf"), "not a finite"), ("Infinity", "not a finite"),
    ("1e999", "not a finite"), ("abc", "not a price"), ("12.5.3,1", "not a price"), ("1,2,3", "not a price"),
    (True, "not a price"), ("15 USD EUR", "not a price"), ("", "not a price"),
])
def test_bad_prices_are_refused_with_a_reason(raw, reason):
    with pytest.raises(ValueError, match=reason):
        parse_price(raw)


def test_csv_prices_are_right_or_reported_by_line(tmp_path: Path):
    path = tmp_path / "store.csv"
    path.write_text('id,title,price\n1,Mug,-5\n2,Kettle,1e3\n3,Lamp,"1.299,00"\n4,Sofa,"1,299.00"\n'
                    '5,Rug,15.00 USD\n6,Vase,nan\n7,Chair,inf\n')
    report = load_table(path)
    prices = {p.id: (p.price, p.currency) for p in report.products}
    assert prices == {"2": (1000.0, ""), "3": (1299.0, ""), "4": (1299.0, ""), "5": (15.0, "USD")}
    assert [e.line for e in report.errors] == [2, 7, 8]
    assert "negative" in str(report.errors[0]) and "-5" in str(report.errors[0])


def test_jsonl_infinity_and_negative_prices_are_reported(tmp_path: Path):
    path = tmp_path / "store.jsonl"
    path.write_text('{"id": "1", "title": "Mug", "price": Infinity}\n{"id": "2", "title": "Kettle", "price": -5}\n'
                    '{"id": "3", "title": "Lamp", "price": NaN}\n{"id": "4", "title": "Rug", "price": "1.299,00"}\n'
                    + json.dumps({"id": "5", "title": "Vase", "price": 19.99, "rating": "4,5"}) + "\n")
    report = load_table(path)
    assert [(p.id, p.price) for p in report.products] == [("4", 1299.0), ("5", 19.99)]
    assert report.products[1].rating == 4.5
    assert [e.line for e in report.errors] == [1, 2, 3]
    assert all("price" in str(e) for e in report.errors)
