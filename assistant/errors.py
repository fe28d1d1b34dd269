"""Errors a shopper or store owner can cause. Shells show `str(error)`, never a traceback."""


class ShopperError(Exception):
    """A problem with the input that the person can fix; the message is written for them."""


class CatalogError(ShopperError):
    """An unknown catalog, or a catalog source that cannot be read."""


class IndexError_(ShopperError):
    """A missing, stale or corrupt index that could not be rebuilt."""


class UnknownProduct(ShopperError):
    """A product id the catalog does not have (never had, or a sync removed it)."""
