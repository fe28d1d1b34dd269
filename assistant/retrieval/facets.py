"""The one facet table, and the constraints written in its terms.

A facet is a product attribute a shopper can filter on, prefer, see counted and (for some) have
recognised in a photo. Everything that lists facets reads `FACETS`: the catalog vocabulary, query
understanding, filters, the ranking policy, photo recognition and the CLI flags. Adding a facet
is one row here plus its field on `Constraints`.

This module imports nothing from the rest of the assistant, so language and retrieval can both
read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

from catalog.schema import Product, money


@dataclass(frozen=True)
class Facet:
    """One row of the facet table."""

    name: str      # singular: vocabulary facet, CLI flag (--color), facet-count key
    field: str     # the list on Filters / ParsedQuery, e.g. "colors"
    attr: str      # the Product attribute it reads
    multi: bool    # the product holds a list (category path broad to narrow, colours)
    label: str     # how it is shown to people
    weight: float  # how much meeting it counts as a preference: the type outweighs the rest
    relax: int     # when no product meets the hard filters, facets give way in this order (0 first)
    photo: bool    # a photo can tell it (attribute probes, photo_index.py)


FACETS: tuple[Facet, ...] = (
    Facet("category", "categories", "category", True, "Category", 8.0, 5, True),
    Facet("color", "colors", "colors", True, "Colour", 2.0, 3, True),
    Facet("brand", "brands", "brand", False, "Brand", 2.0, 2, False),
    Facet("gender", "genders", "gender", False, "Gender", 2.0, 4, True),
    Facet("occasion", "occasions", "occasion", False, "Occasion", 1.0, 0, True),
    Facet("material", "materials", "material", False, "Material", 1.0, 1, False),
)
BY_NAME = {f.name: f for f in FACETS}
BY_FIELD = {f.field: f for f in FACETS}
FACET_NAMES = tuple(BY_NAME)
FILTER_FIELDS = {f.field: f.name for f in FACETS}  # "colors" -> "color"
RELAX_ORDER = tuple(f.field for f in sorted(FACETS, key=lambda f: f.relax))

# a value that also suits a shopper who asked for another: a unisex item is for men and women too
INCLUDED_BY = {"gender": {"Men": ("Unisex",), "Women": ("Unisex",), "Boys": ("Unisex",),
                          "Girls": ("Unisex",)}}


def product_values(product: Product, facet: Facet | str, leaf: bool = False) -> list[str]:
    """A product's values of one facet; `leaf`: only the narrowest category (for counting)."""
    facet = BY_NAME[facet] if isinstance(facet, str) else facet
    value = getattr(product, facet.attr, "")
    if facet.multi:
        return [value[-1]] if leaf and facet.name == "category" and value else list(value)
    return [value] if value else []


def accepted(facet: Facet | str, wanted: list[str]) -> set[str]:
    """The values that satisfy a wish for `wanted`: the values themselves and those that include
    them (the only place gender inclusion is written)."""
    name = facet if isinstance(facet, str) else facet.name
    extra = INCLUDED_BY.get(name, {})
    return set(wanted) | {v for w in wanted for v in extra.get(w, ())}


def meets(product: Product, facet: Facet, wanted: list[str]) -> bool:
    """Whether a product has one of the wanted values (or one that includes them)."""
    return bool(accepted(facet, wanted) & set(product_values(product, facet)))


@dataclass(kw_only=True)
class Constraints:
    """Price bounds, facet values and negations: what both a parsed query and filters hold.
    One list field per row of `FACETS` (checked by tests/retrieval/test_policy.py)."""

    price_min: float | None = None
    price_max: float | None = None
    categories: list[str] = field(default_factory=list)
    colors: list[str] = field(default_factory=list)
    brands: list[str] = field(default_factory=list)
    genders: list[str] = field(default_factory=list)
    occasions: list[str] = field(default_factory=list)
    materials: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)

    def is_empty(self) -> bool:
        return self.price_min is None and self.price_max is None and not any(
            getattr(self, f) for f in (*FILTER_FIELDS, "exclude"))


CONSTRAINT_FIELDS = tuple(f.name for f in fields(Constraints))


@dataclass
class Filters(Constraints):
    """Hard constraints on results (or, as `preferences`, soft ones). Values are the catalog's own
    facet values."""

    currency: str = ""  # the catalog's, for the price chip; set by the ranking policy

    @classmethod
    def from_parsed(cls, parsed: Constraints) -> "Filters":
        return cls(**{name: _copy(getattr(parsed, name)) for name in CONSTRAINT_FIELDS})

    def price_chip(self) -> str | None:
        """The price bounds as one chip label ("under $50", "EUR 20–EUR 40"), or None."""
        low, high = self.price_min, self.price_max
        if low is not None and high is not None:
            return f"{money(low, self.currency)}–{money(high, self.currency)}"
        if high is not None:
            return f"under {money(high, self.currency)}"
        return None if low is None else f"over {money(low, self.currency)}"

    def describe(self) -> list[str]:
        """Short chip labels, e.g. ["under $50", "Black", "not leather"]."""
        chips: list[str] = [self.price_chip()] if self.price_chip() else []
        for f in FILTER_FIELDS:
            chips += getattr(self, f)
        chips += [f"not {e}" for e in self.exclude]
        return chips


def _copy(value):
    return list(value) if isinstance(value, list) else value


def merge_filters(a: Filters, b: Filters) -> Filters:
    """Union of two filter sets; `b` wins on price bounds."""
    out = replace(a)
    out.price_min = b.price_min if b.price_min is not None else a.price_min
    out.price_max = b.price_max if b.price_max is not None else a.price_max
    for fname in (*FILTER_FIELDS, "exclude"):
        setattr(out, fname, list(dict.fromkeys(getattr(a, fname) + getattr(b, fname))))
    return out


def satisfied(p: Product, filters: Filters) -> list[str]:
    """The filter values a product meets, e.g. ["Black", "Women", "$40", "not leather"]."""
    out = []
    for facet in FACETS:
        wanted = accepted(facet, getattr(filters, facet.field))
        out += [v for v in product_values(p, facet) if v in wanted]
    if p.price is not None and (filters.price_min is not None or filters.price_max is not None):
        out.append(money(p.price, p.currency))
    out += [f"not {e}" for e in filters.exclude]
    return list(dict.fromkeys(out))


def missed(p: Product, preferences: Filters) -> list[str]:
    """Preferred attributes this product does not have, e.g. ["Red"] for a blue dress."""
    return [" or ".join(wanted) for facet in FACETS
            if (wanted := getattr(preferences, facet.field)) and not meets(p, facet, wanted)]
