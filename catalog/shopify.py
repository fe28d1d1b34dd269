"""Shopify's product CSV export: several rows per Handle (the product row, then one row per
extra variant and per extra image) fold into one `Product`.

The first row of a Handle carries Title, Body (HTML), Vendor, Type, Tags and the option names;
later rows carry option values, Variant Price/SKU and Image Src. The product gets the lowest
variant price, its options (colours -> colors, sizes -> attributes["sizes"]), every image
(the first as `image`) and its variants as JSON in attributes["variants"]. A row that names an
existing Handle with another Title is reported, never merged; a bad Variant Price drops that
variant with its line reported; a draft or archived product is reported as not for sale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from catalog.html_text import strip_html
from catalog.merchant import GENDERS, KID_AGES, KID_GENDERS
from catalog.prices import parse_price
from catalog.reading import CsvRows, open_text
from catalog.schema import LoadReport, Product, RowError

NOT_FOR_SALE = {"draft", "archived"}
OPTIONS = (1, 2, 3)


def is_shopify_header(columns: list[str]) -> bool:
    names = {c.strip().lower() for c in columns}
    return "handle" in names and bool(names & {"variant price", "body (html)", "option1 name"})


@dataclass
class _Handle:
    """The rows of one Handle, as read."""

    line: int
    head: dict
    variants: list[tuple[int, dict]] = field(default_factory=list)
    images: list[tuple[float, int, str]] = field(default_factory=list)


def _cell(row: dict, name: str) -> str:
    return (row.get(name) or "").strip()


def _is_variant(row: dict) -> bool:
    return any(_cell(row, c) for c in ("Variant Price", "Variant SKU", "Option1 Value"))


def _images(row: dict, order: int) -> list[tuple[float, int, str]]:
    found = []
    src = _cell(row, "Image Src")
    if src:
        try:
            position = float(_cell(row, "Image Position") or "inf")
        except ValueError:
            position = float("inf")
        found.append((position, order, src))
    if _cell(row, "Variant Image"):
        found.append((float("inf"), order, _cell(row, "Variant Image")))
    return found


def _product(group: _Handle, report: LoadReport, base: Path) -> Product:
    """Fold one Handle's rows into a Product; bad variant prices are reported by line."""
    head = group.head
    names = {i: _cell(head, f"Option{i} Name") for i in OPTIONS}
    values: dict[str, list[str]] = {}
    variants, priced = [], []
    for line, row in group.variants:
        options = {names[i] or f"Option{i}": _cell(row, f"Option{i} Value") for i in OPTIONS
                   if _cell(row, f"Option{i} Value") and _cell(row, f"Option{i} Value") != "Default Title"}
        try:
            price = parse_price(_cell(row, "Variant Price"))[0] if _cell(row, "Variant Price") else None
            compare = parse_price(_cell(row, "Variant Compare At Price"))[0] if _cell(row, "Variant Compare At Price") else None
        except ValueError as exc:
            bad = f"{_cell(row, 'Variant Price')!r} / compare at {_cell(row, 'Variant Compare At Price')!r}"
            report.errors.append(RowError(line, f"Variant Price: {exc} ({bad}); variant left out"))
            continue
        for name, value in options.items():
            if value not in values.setdefault(name, []):
                values[name].append(value)
        variants.append({"sku": _cell(row, "Variant SKU"), "options": options, "price": price,
                         "compare_at_price": compare})
        if price is not None:
            priced.append((price, compare))
    attributes: dict[str, str] = {}
    colors: list[str] = []
    for name, vals in values.items():
        key = name.lower()
        if "colo" in key:  # Color, Colour
            colors = vals
        elif "size" in key:
            attributes["sizes"] = ", ".join(vals)
        else:
            attributes[key] = ", ".join(vals)
    price = min(priced)[0] if priced else None
    compare = min(priced)[1] if priced else None
    if compare is not None and price is not None and compare > price:
        attributes["compare_at_price"] = f"{compare:.2f}"
    images = []
    for _, _, src in sorted(group.images):
        if "://" not in src and not Path(src).is_absolute():
            src = str((base / src).resolve())
        if src not in images:
            images.append(src)
    if images:
        attributes["images"] = " ".join(images)
    if variants:
        attributes["variants"] = json.dumps(variants, ensure_ascii=False)
    if _cell(head, "Tags"):
        attributes["tags"] = _cell(head, "Tags")
    category = [c.strip() for c in _cell(head, "Product Category").split(">") if c.strip()]
    kind = _cell(head, "Type")
    if kind and (not category or category[-1].lower() != kind.lower()):
        category.append(kind)
    age = _cell(head, "Google Shopping / Age Group").lower()
    gender = _cell(head, "Google Shopping / Gender")
    gender = (KID_GENDERS if age in KID_AGES else GENDERS).get(gender.lower(), gender)
    return Product(
        id=_cell(head, "Handle"), title=_cell(head, "Title"),
        description=strip_html(head.get("Body (HTML)") or ""), category=category,
        brand=_cell(head, "Vendor"), colors=colors, gender=gender,
        price=price, image=images[0] if images else "", attributes=attributes,
    )


def load_shopify(path: str | Path) -> LoadReport:
    """A Shopify products export (comma-separated, header as Shopify writes it)."""
    from catalog.adapters import _add

    path = Path(path)
    report = LoadReport(source=str(path))
    groups: dict[str, _Handle] = {}
    with open_text(path) as fh:
        rows = CsvRows(fh, path.name, report)
        if not is_shopify_header(rows.fieldnames):
            raise ValueError(f"{path.name}: not a Shopify products export (no Handle/Variant Price columns)")
        for order, (line, row) in enumerate(rows):
            if None in row:
                report.errors.append(RowError(line, "more fields than the header"))
                continue
            handle = _cell(row, "Handle")
            if not handle:
                report.errors.append(RowError(line, "no Handle"))
                continue
            group = groups.get(handle)
            if group is None:
                group = groups[handle] = _Handle(line, row)
            elif _cell(row, "Title") and _cell(row, "Title") != _cell(group.head, "Title"):
                report.errors.append(RowError(line, f"Handle {handle!r} is already the product on line "
                                                    f"{group.line} with another Title; not merged"))
                continue
            if _is_variant(row):
                group.variants.append((line, row))
            group.images += _images(row, order)
    seen: set[str] = set()
    for group in groups.values():
        status = _cell(group.head, "Status").lower()
        published = _cell(group.head, "Published").lower()
        if status in NOT_FOR_SALE or published == "false":
            report.errors.append(RowError(group.line, f"not for sale (Status {status or 'active'}, "
                                                      f"Published {published or 'true'}); left out"))
            continue
        _add(report, group.line, lambda g=group: _product(g, report, base=path.parent), seen)
    report.errors.sort(key=lambda e: e.line)
    return report
