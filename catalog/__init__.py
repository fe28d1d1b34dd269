"""Catalog schema and adapters: every source becomes a list of `Product` records."""

from catalog.schema import Product, LoadReport, RowError

__all__ = ["Product", "LoadReport", "RowError"]
