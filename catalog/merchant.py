"""Google Merchant Center product feeds: the tab-separated form (.tsv/.txt, a header of
attribute names) and the RSS 2.0 / Atom XML form with the `g:` namespace.

Each item becomes one `Product` (id, title, description, image_link -> image, price/sale_price,
brand, color, gender, product_type -> category); the other attributes (link, size, availability,
...) are kept as attributes. The XML is parsed with defusedxml (entity declarations refused, so an
XML bomb cannot expand) in chunks into a collector that keeps one item at a time and bounds each
text node, so memory stays small whatever the feed's size.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from assistant.errors import CatalogError
from catalog.html_text import strip_html
from catalog.prices import parse_price
from catalog.reading import MAX_FIELD_CHARS, MAX_ROW_CHARS, CsvRows, open_text
from catalog.schema import LoadReport, Product, RowError

GOOGLE_NS = "http://base.google.com/ns/1.0"
FEED_ROOTS = {"rss", "feed"}
ITEM_TAGS = {"item", "entry"}
# Merchant's fixed gender values, as the catalogs here name shoppers (kids' sizes: Boys/Girls)
GENDERS = {"male": "Men", "female": "Women", "unisex": "Unisex"}
KID_GENDERS = {"male": "Boys", "female": "Girls", "unisex": "Unisex"}
KID_AGES = {"kids", "toddler", "infant", "newborn"}
# attributes that only a Merchant feed has: two of them in a header with id/title/price say "Merchant"
MERCHANT_ONLY = {"link", "image_link", "availability", "condition", "google_product_category",
                 "product_type", "gtin", "mpn", "item_group_id", "additional_image_link", "sale_price"}
MAPPED = {"id", "title", "description", "image_link", "price", "sale_price", "brand", "color",
          "gender", "product_type", "material"}
READ_CHUNK = 1 << 16


def attribute_name(column: str) -> str:
    """Merchant accepts "image_link", "image link" and "g:image_link" for the same attribute."""
    name = column.strip().lower()
    return (name[2:] if name.startswith("g:") else name).replace(" ", "_")


def is_merchant_header(columns: list[str]) -> bool:
    names = {attribute_name(c) for c in columns}
    return {"id", "title", "price"} <= names and len(names & MERCHANT_ONLY) >= 2


def is_merchant_xml(head: str) -> bool:
    """An XML head whose root is <rss> or <feed> and that declares Google's namespace."""
    root = re.search(r"<(?![?!])([\w:.-]+)", head)
    return bool(root) and root.group(1).split(":")[-1] in FEED_ROOTS and GOOGLE_NS in head


def _first(value: str | list[str] | None) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    return (value or "").strip()


def _category(fields: dict) -> list[str]:
    """product_type ("Apparel > Shoes", the store's own path), else a text google_product_category."""
    for key in ("product_type", "google_product_category"):
        path = _first(fields.get(key)).split(",")[0] if key == "product_type" else _first(fields.get(key))
        parts = [p.strip() for p in path.split(">") if p.strip()]
        if parts and not path.strip().isdigit():
            return parts
    return []


def _price(fields: dict, key: str) -> tuple[float, str] | None:
    text = _first(fields.get(key))
    if not text:
        return None
    try:
        return parse_price(text)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc} ({text!r})") from None


def merchant_product(fields: dict, base: Path) -> Product:
    """One feed item ({attribute: text or [texts]}) as a Product; ValueError names a bad attribute."""
    price, sale = _price(fields, "price"), _price(fields, "sale_price")
    attributes = {}
    if sale and (price is None or sale[0] < price[0]):
        if price:
            attributes["regular_price"] = f"{price[0]:.2f}"
        price = sale
    age = _first(fields.get("age_group")).lower()
    gender = _first(fields.get("gender"))
    gender = (KID_GENDERS if age in KID_AGES else GENDERS).get(gender.lower(), gender)
    for key, value in fields.items():
        text = ", ".join(v.strip() for v in value if v.strip()) if isinstance(value, list) else value.strip()
        if key not in MAPPED and text:
            attributes[key] = text
    image = _first(fields.get("image_link"))
    if image and "://" not in image and not Path(image).is_absolute():
        image = str((base / image).resolve())
    return Product(
        id=_first(fields.get("id")), title=_first(fields.get("title")),
        description=strip_html(_first(fields.get("description"))),
        category=_category(fields), brand=_first(fields.get("brand")),
        colors=[c.strip() for c in _first(fields.get("color")).split("/") if c.strip()],
        material=_first(fields.get("material")), gender=gender,
        price=price[0] if price else None, currency=price[1] if price else "",
        image=image, attributes=attributes,
    )


class _ItemCollector:
    """Parser target that keeps only each <item>/<entry>'s child values, by local name (g:price ->
    price); nested children (g:shipping) are joined as "name: value". Text nodes are bounded."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.root = ""
        self.depth = 0
        self.item_depth = -1
        self.item: dict[str, list[str]] | None = None
        self.done: list[dict[str, list[str]]] = []
        self.text: list[str] = []
        self.chars = 0
        self.nested: list[str] = []
        self.href = ""
        self.unparsed = 0  # characters fed since the parser last reported a tag or text

    def start(self, tag: str, attrib: dict) -> None:
        local = tag.rsplit("}", 1)[-1]
        self.unparsed = 0
        if not self.root:
            self.root = local
            if local not in FEED_ROOTS:
                raise CatalogError(f"{self.name}: XML root is <{local}>, not a Merchant feed (<rss> or <feed>)")
        self.depth += 1
        if self.item is None and local in ITEM_TAGS:
            self.item, self.item_depth = {}, self.depth
        elif self.item is not None and self.depth == self.item_depth + 1:
            self.nested, self.href = [], attrib.get("href", "")
        self.text, self.chars = [], 0

    def data(self, text: str) -> None:
        self.unparsed = 0
        if self.item is None:
            return
        self.chars += len(text)
        if self.chars > MAX_FIELD_CHARS:
            raise CatalogError(f"{self.name}: item {len(self.done) + 1} has a value longer than "
                               f"{MAX_FIELD_CHARS:,} characters")
        self.text.append(text)

    def end(self, tag: str) -> None:
        local = tag.rsplit("}", 1)[-1]
        self.unparsed = 0
        if self.item is not None:
            value = "".join(self.text).strip()
            if self.depth == self.item_depth:
                self.done.append(self.item)
                self.item = None
            elif self.depth == self.item_depth + 1:
                value = value or "; ".join(self.nested) or self.href  # Atom <link href="..."/>
                self.item.setdefault(attribute_name(local), []).append(value)
            elif value:
                self.nested.append(f"{local}: {value}")
        self.text, self.chars = [], 0
        self.depth -= 1

    def close(self) -> str:
        return self.root


def feed_items(path: Path) -> Iterator[dict[str, list[str]]]:
    """The items of a Merchant XML feed, one at a time, read in 64 KB chunks."""
    try:
        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import DefusedXMLParser, ParseError
    except ImportError:  # pinned in requirements.lock; never fall back to an unguarded parser
        raise CatalogError("reading an XML feed needs defusedxml: run `make setup`") from None
    collector = _ItemCollector(path.name)
    parser = DefusedXMLParser(target=collector, forbid_dtd=False, forbid_entities=True,
                              forbid_external=True)
    try:
        with open_text(path) as fh:
            while chunk := fh.read(READ_CHUNK):
                collector.unparsed += len(chunk)
                parser.feed(chunk)
                if collector.unparsed > MAX_ROW_CHARS:  # expat holds an unfinished tag in memory
                    raise CatalogError(f"{path.name}: a tag runs past {MAX_ROW_CHARS:,} characters; "
                                       "is this a product feed?")
                yield from collector.done
                collector.done.clear()
        parser.close()
        yield from collector.done
    except DefusedXmlException as exc:
        raise CatalogError(f"{path.name}: refused: the XML declares entities or a DTD ({exc.__class__.__name__}); "
                           "a product feed needs none") from None
    except ParseError as exc:
        raise CatalogError(f"{path.name}: not well-formed XML ({exc}); nothing was imported") from None
    if not collector.root:
        raise CatalogError(f"{path.name}: empty XML file")


def load_merchant(path: str | Path) -> LoadReport:
    """A Merchant Center feed, XML or tab-separated (told apart by the first character)."""
    from catalog.adapters import _add

    path = Path(path)
    report = LoadReport(source=str(path))
    seen: set[str] = set()
    base = path.parent
    with open_text(path) as fh:
        is_xml = fh.read(1024).lstrip().startswith("<")
    if is_xml:
        for number, fields in enumerate(feed_items(path), start=1):
            before = len(report.errors)
            _add(report, number, lambda f=fields: merchant_product(f, base), seen)
            for err in report.errors[before:]:
                err.unit = "item"
        return report
    with open_text(path) as fh:
        rows = CsvRows(fh, path.name, report)
        if not is_merchant_header(rows.fieldnames):
            raise ValueError(f"{path.name}: not a Merchant feed (the header needs id, title, price, link, ...)")
        for line, row in rows:
            if None in row:
                report.errors.append(RowError(line, "more fields than the header"))
                continue
            fields = {attribute_name(k): v for k, v in row.items() if v}
            _add(report, line, lambda f=fields: merchant_product(f, base), seen)
    return report
