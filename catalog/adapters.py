"""Adapters: turn a source (the fashion photo set, the WANDS layout, a store's CSV/JSONL export)
into `Product` records. Each returns a `LoadReport` listing rows it skipped, with line numbers."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable

from pydantic import ValidationError

from assistant.errors import CatalogError
from catalog.prices import parse_number, parse_price
from catalog.reading import CsvRows, numbered_lines, open_text
from catalog.schema import LoadReport, Product, RowError

GENDER_WORDS = {"men", "women", "boys", "girls", "unisex", "kids", "man", "woman"}
MIN_BRAND_PRODUCTS = 3


def _validation_reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "row"
    return f"{where}: {first.get('msg', 'invalid')}"


def _add(report: LoadReport, line: int, build: Callable[[], Product], seen: set[str]) -> None:
    """Build one product; on failure record the line and the reason instead of raising."""
    try:
        product = build()
    except ValidationError as exc:
        report.errors.append(RowError(line, _validation_reason(exc)))
        return
    except (ValueError, KeyError, TypeError) as exc:
        report.errors.append(RowError(line, str(exc) or exc.__class__.__name__))
        return
    if product.id in seen:
        report.errors.append(RowError(line, f"duplicate id {product.id!r}"))
        return
    seen.add(product.id)
    report.products.append(product)


# ---------------------------------------------------------------- fashion photo set
def _title_brand_prefix(title: str) -> str:
    words = title.split()
    for i, word in enumerate(words):
        if word.lower() in GENDER_WORDS:
            return " ".join(words[:i])
    return ""


def fashion_brands(titles: Iterable[str]) -> set[str]:
    """Brands derived from the titles themselves: the words before the gender word
    ("Puma Men Grey T-shirt" -> "Puma"), kept only when at least three products share them."""
    counts = Counter(p for p in map(_title_brand_prefix, titles) if p and len(p.split()) <= 3)
    return {brand for brand, n in counts.items() if n >= MIN_BRAND_PRODUCTS}


def load_fashion(folder: str | Path) -> LoadReport:
    """The fashion set: `styles.csv` labels + `images/<id>.jpg`. No prices exist, so none are set."""
    folder = Path(folder).resolve()
    styles = folder / "styles.csv"
    report = LoadReport(source=str(styles))
    if not styles.is_file():
        raise FileNotFoundError(f"fashion catalog not found: {styles} is missing")
    with open_text(styles) as fh:
        rows = list(CsvRows(fh, styles.name, report))
    brands = fashion_brands(r.get("productDisplayName") or "" for _, r in rows)
    seen: set[str] = set()
    for line, row in rows:
        def build(row: dict[str, Any] = row) -> Product:
            title = (row.get("productDisplayName") or "").strip()
            prefix = _title_brand_prefix(title)
            colour = (row.get("baseColour") or "").strip()
            image = folder / "images" / f"{row['id']}.jpg"
            category = [c for c in (row.get("masterCategory"), row.get("subCategory"),
                                    row.get("articleType")) if c and c.strip()]
            if not category:
                raise ValueError("no category labels")
            return Product(
                id=row["id"], title=title, category=category,
                brand=prefix if prefix in brands else "",
                colors=[colour] if colour and colour != "NA" else [],
                gender=row.get("gender") or "",
                occasion=(row.get("usage") or "") if row.get("usage") != "NA" else "",
                image=str(image) if image.is_file() else "",
                attributes={k: row[k] for k in ("season", "year") if row.get(k)},
            )
        _add(report, line, build, seen)
    return report


# ---------------------------------------------------------------- WANDS layout
WANDS_COLOUR_KEYS = ("color", "colour", "primarycolor", "basecolor", "finish")
WANDS_MATERIAL_KEYS = ("primarymaterial", "material", "upholsterymaterial", "topmaterial",
                       "framematerial", "basematerial", "fabric")
WANDS_STYLE_KEYS = ("dsprimaryproductstyle", "style")


def parse_wands_features(text: str) -> dict[str, str]:
    """`name:value|name:value` -> dict; repeated names keep the first value."""
    features: dict[str, str] = {}
    for part in (text or "").split("|"):
        name, sep, value = part.partition(":")
        name, value = name.strip().lower(), value.strip()
        if sep and name and value and name not in features:
            features[name] = value
    return features


def _first(features: dict[str, str], keys: Iterable[str]) -> str:
    for key in keys:
        if features.get(key):
            return features[key]
    return ""


def _opt_float(value: str | None) -> float | None:
    value = (value or "").strip()
    return float(value) if value else None


def load_wands(path: str | Path) -> LoadReport:
    """A WANDS `product.csv` (tab-separated). WANDS has no prices; features give colour/material/style."""
    path = Path(path)
    if path.is_dir():
        path = path / "product.csv"
    report = LoadReport(source=str(path))
    seen: set[str] = set()
    with open_text(path) as fh:
        reader = CsvRows(fh, path.name, report, delimiter="\t")
        missing = {"product_id", "product_name"} - set(reader.fieldnames)
        if missing:
            raise ValueError(f"{path}: not a WANDS product file (missing columns {sorted(missing)})")
        for line, row in reader:
            def build(row: dict[str, Any] = row) -> Product:
                if None in row:
                    raise ValueError("more fields than the header")
                features = parse_wands_features(row.get("product_features") or "")
                hierarchy = [c.strip() for c in (row.get("category hierarchy") or "").split("/")
                             if c.strip()]
                product_class = (row.get("product_class") or "").strip()
                if product_class and (not hierarchy or hierarchy[-1] != product_class):
                    hierarchy.append(product_class)
                colour = _first(features, WANDS_COLOUR_KEYS)
                rating = _opt_float(row.get("average_rating"))
                count = _opt_float(row.get("rating_count"))
                attrs = {k: v for k, v in features.items() if len(v) <= 80}
                style = _first(features, WANDS_STYLE_KEYS)
                if style:
                    attrs["style"] = style
                return Product(
                    id=row["product_id"], title=row["product_name"],
                    description=row.get("product_description") or "",
                    category=hierarchy, colors=[colour] if colour else [],
                    material=_first(features, WANDS_MATERIAL_KEYS),
                    rating=rating, rating_count=int(count) if count is not None else None,
                    attributes=attrs,
                )
            _add(report, line, build, seen)
    return report


# ---------------------------------------------------------------- plain CSV / JSONL export
LIST_FIELDS = {"category", "colors"}
FIELD_ALIASES = {  # headers are compared after _field_name: "Product Name" -> product_name
    "sku": "id", "product_id": "id", "item_id": "id", "variant_sku": "id",
    "name": "title", "product_name": "title", "product_title": "title", "item_name": "title",
    "color": "colors", "colour": "colors", "colours": "colors", "categories": "category",
    "product_type": "category", "image_url": "image", "image_path": "image", "image_link": "image",
    "usage": "occasion", "vendor": "brand", "manufacturer": "brand",
}
KNOWN_FIELDS = set(Product.model_fields)


def _field_name(header: str) -> str:
    """A column header as a schema field: case, spaces, dots and hyphens do not matter
    ("Product Name", "product-name" and "PRODUCT_NAME" are all the title)."""
    name = re.sub(r"[\s.\-]+", "_", header.strip().lower()).strip("_")
    return FIELD_ALIASES.get(name, name)


def _normalise_record(record: dict[str, Any], base: Path) -> dict[str, Any]:
    """Map a store's export columns onto the schema; unknown columns become free attributes."""
    out: dict[str, Any] = {"attributes": {}}
    for key, value in record.items():
        if key is None:
            raise ValueError("more fields than the header")
        name = _field_name(key)
        if name not in KNOWN_FIELDS:
            name = key.strip().lower()  # an attribute keeps its header's words: "assembly required"
        if value is None or value == "":
            continue
        if name in LIST_FIELDS and isinstance(value, str):
            sep = ">" if name == "category" and ">" in value else ("/" if name == "category" else ",")
            value = [v.strip() for v in re.split(r"[|;]" if "|" in value or ";" in value else re.escape(sep), value) if v.strip()]
        if name == "attributes" and isinstance(value, dict):
            out["attributes"].update({str(k): str(v) for k, v in value.items()})
        elif name in KNOWN_FIELDS:
            out[name] = value
        else:
            out["attributes"][name] = str(value)
    for key, parse in (("price", parse_price), ("rating", parse_number)):
        if key in out:
            try:
                value = parse(out[key])
            except ValueError as exc:
                raise ValueError(f"{key}: {exc} ({out[key]!r})") from None
            if key == "price":
                value, code = value
                out.setdefault("currency", code)
            out[key] = value
    image = out.get("image")
    if isinstance(image, str) and image and "://" not in image and not Path(image).is_absolute():
        out["image"] = str((base / image).resolve())
    return out


def load_table(path: str | Path) -> LoadReport:
    """A store's own export: `.jsonl` (one object per line) or `.csv`/`.tsv` with a header row."""
    path = Path(path)
    report = LoadReport(source=str(path))
    seen: set[str] = set()
    base = path.parent
    if path.suffix.lower() in {".jsonl", ".ndjson", ".json"}:
        with open_text(path) as fh:
            for line, raw in numbered_lines(fh, path.name):
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw)
                    if not isinstance(record, dict):
                        raise ValueError("not a JSON object")
                except (json.JSONDecodeError, ValueError) as exc:
                    report.errors.append(RowError(line, f"bad JSON: {exc}"))
                    continue
                _add(report, line, lambda r=record: Product(**_normalise_record(r, base)), seen)
        return report
    delimiter = "\t" if path.suffix.lower() == ".tsv" else None  # else sniffed from the header
    with open_text(path) as fh:
        rows = CsvRows(fh, path.name, report, delimiter)
        _require_columns(rows.fieldnames, path.name)
        for line, record in rows:
            _add(report, line, lambda r=record: Product(**_normalise_record(r, base)), seen)
    return report


def _require_columns(headers: list[str], name: str) -> None:
    """One message for a header without an id or a title column, instead of one per row."""
    fields = {_field_name(h) for h in headers}
    missing = [f for f in ("id", "title") if f not in fields]
    if headers and missing:  # no header at all: an empty file, reported as such
        names = "; ".join(f"{f}: " + ", ".join([f] + [a for a, to in FIELD_ALIASES.items() if to == f])
                          for f in missing)
        raise CatalogError(f"{name} has no {' and no '.join(missing)} column (its header: "
                           f"{', '.join(h for h in headers if h)[:200]}). Name a column after one of "
                           f"these ({names}); every product needs an id that stays the same between "
                           "exports (a SKU), so updates can be applied with `assistant sync`.")


def load_source(kind: str, path: str | Path) -> LoadReport:
    """Dispatch on adapter kind: `fashion`, `wands`, `table`, `merchant` or `shopify`
    (`catalog.formats.detect_kind` tells a file's kind from its content)."""
    from catalog.merchant import load_merchant
    from catalog.shopify import load_shopify

    loaders = {"fashion": load_fashion, "wands": load_wands, "table": load_table,
               "merchant": load_merchant, "shopify": load_shopify}
    if kind not in loaders:
        raise ValueError(f"unknown catalog kind {kind!r}; use one of {sorted(loaders)}")
    return loaders[kind](path)
