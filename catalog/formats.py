"""Which adapter reads a file: told from its content (XML root, header columns), not only its
extension, so a Merchant feed saved as .txt or a Shopify export renamed .csv is read right."""

from __future__ import annotations

import csv
from pathlib import Path

from assistant.errors import CatalogError
from catalog.merchant import is_merchant_header, is_merchant_xml
from catalog.reading import open_text, sniff_delimiter
from catalog.shopify import is_shopify_header

SNIFF_CHARS = 1 << 16


# the first bytes of a workbook: xlsx / ods / numbers are zip files, an old .xls an OLE file
WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")


def detect_kind(path: str | Path) -> str:
    """fashion | wands (folders) or wands | shopify | merchant | table (files). Refuses what
    cannot be a catalog (a device, a FIFO, a file over the size bound, XML that is not a feed)."""
    path = Path(path)
    if path.is_dir():
        return "fashion" if (path / "styles.csv").exists() else "wands"
    try:
        with open_text(path) as fh:
            if fh.buffer.peek(4)[:4] in WORKBOOK_MAGIC:
                raise CatalogError(f"{path.name} is a spreadsheet workbook, not a text export: save it as "
                                   "\"CSV UTF-8\" (Excel: File > Save As; LibreOffice: Save a Copy > Text CSV) "
                                   "and use that file")
            head = fh.read(SNIFF_CHARS)
    except UnicodeDecodeError:
        raise CatalogError(f"{path.name} is not UTF-8 text; export the catalog as UTF-8 CSV, "
                           "JSONL or XML") from None
    if head.lstrip().startswith("<"):
        if is_merchant_xml(head):
            return "merchant"
        raise CatalogError(f"{path.name} is XML but not a Google Merchant Center feed "
                           "(<rss> or <feed> with the g: namespace)")
    first = head.split("\n", 1)[0]
    columns = next(csv.reader([first], delimiter=sniff_delimiter(first)), [])
    if is_shopify_header(columns):
        return "shopify"
    names = {c.strip().lower() for c in columns}
    if path.name == "product.csv" or {"product_id", "product_name", "product_class"} <= names:
        return "wands"
    if is_merchant_header(columns):
        return "merchant"
    return "table"
