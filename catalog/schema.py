"""One product schema shared by every catalog source.

Adapters map their own columns onto `Product`; unknown fields stay empty (a price is never
invented). Bad rows are collected in a `LoadReport` with their line number instead of being
silently dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pydantic import BaseModel, Field, field_validator


def money(amount: float, currency: str = "", cents: bool = False) -> str:
    """An amount in a currency as the pages write it: "$40" for US dollars or a catalog that names
    none, else the ISO code ("EUR 40"); `cents` gives "$1,299.00"."""
    number = f"{amount:,.2f}" if cents else f"{amount:g}"
    return f"${number}" if not currency or currency == "USD" else f"{currency} {number}"


class Product(BaseModel):
    """A sellable item, whatever catalog it came from."""

    id: str
    title: str
    description: str = ""
    category: list[str] = Field(default_factory=list, description="category path, broad to narrow")
    brand: str = ""
    colors: list[str] = Field(default_factory=list)
    material: str = ""
    gender: str = ""
    occasion: str = ""
    price: float | None = None
    currency: str = ""
    rating: float | None = None
    rating_count: int | None = None
    image: str = Field("", description="absolute path or URL of the product photo, if any")
    attributes: dict[str, str] = Field(default_factory=dict)

    @field_validator("id", "title")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = str(value).strip()
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("price")
    @classmethod
    def _price_non_negative(cls, value: float | None) -> float | None:
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise ValueError("price must be a finite, non-negative number")
        return value

    @field_validator("rating")
    @classmethod
    def _rating_range(cls, value: float | None) -> float | None:
        if value is not None and not (0 <= value <= 5):
            raise ValueError("rating must be between 0 and 5")
        return value

    @property
    def leaf_category(self) -> str:
        return self.category[-1] if self.category else ""

    def price_text(self) -> str | None:
        """The price as a shopper reads it, in the catalog's currency ("$49.90", "EUR 1,299.00");
        None when the catalog lists no price."""
        return None if self.price is None else money(self.price, self.currency, cents=True)

    def search_text(self) -> str:
        """The text that keyword and dense indexes see: title first, then labels, then prose."""
        parts = [self.title, " ".join(self.category), self.brand, " ".join(self.colors),
                 self.material, self.gender, self.occasion]
        parts += [f"{k} {v}" for k, v in self.attributes.items() if v and len(v) < 60]
        if self.description:
            parts.append(self.description[:500])
        return " . ".join(p for p in parts if p)


@dataclass
class RowError:
    """A row an adapter could not turn into a product: its line (an XML feed: its item number)."""

    line: int
    reason: str
    unit: str = "line"

    def __str__(self) -> str:
        return f"{self.unit} {self.line}: {self.reason}"


@dataclass
class LoadReport:
    """What an adapter produced: the products, and every row it skipped with the reason."""

    source: str
    products: list[Product] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def summary(self) -> str:
        text = f"{self.source}: {len(self.products)} products loaded"
        if self.errors:
            text += f", {len(self.errors)} rows skipped"
        return text
