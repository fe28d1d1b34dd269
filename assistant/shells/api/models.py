"""Response shapes of the HTTP API. Typed so `/api/docs` documents exactly what a store's site
gets back; built from the same `Result`/`SearchResponse` objects the UI and the CLI render."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from assistant.retrieval.search import Result, SearchResponse
from assistant.shells.web.served_images import PRODUCT_IMAGES
from catalog.schema import Product


class ErrorOut(BaseModel):
    """Every refused request: one sentence meant for the person, never a traceback."""

    error: str = Field(description="what was wrong, e.g. \"k must be between 1 and 100.\"")


photo_url = PRODUCT_IMAGES.photo_url  # only files a catalog lists are served; no server path leaves


class ProductOut(BaseModel):
    id: str
    title: str
    description: str = ""
    category: list[str] = Field(description="category path, broad to narrow")
    brand: str | None = None
    colors: list[str] = []
    material: str | None = None
    gender: str | None = None
    occasion: str | None = None
    price: float | None = None
    currency: str | None = None
    rating: float | None = None
    rating_count: int | None = None
    image_url: str | None = Field(None, description="a remote URL, or a path on this server "
                                  "(/product-image/<token>) that serves the product photo")
    attributes: dict[str, str] = {}

    @classmethod
    def of(cls, p: Product) -> "ProductOut":
        return cls(id=p.id, title=p.title, description=p.description, category=list(p.category),
                   brand=p.brand or None, colors=list(p.colors), material=p.material or None,
                   gender=p.gender or None, occasion=p.occasion or None, price=p.price,
                   currency=p.currency or None, rating=p.rating, rating_count=p.rating_count,
                   image_url=photo_url(p.image), attributes=dict(p.attributes))


class ResultOut(BaseModel):
    rank: int
    score: float
    why: str = Field(description="one sentence: why this product is here")
    signals: dict[str, Any] = Field(description="keyword/dense ranks and scores, matched words and "
                                    "filters: the data the explanation was written from")
    product: ProductOut

    @classmethod
    def of(cls, r: Result) -> "ResultOut":
        d = r.to_dict()
        return cls(rank=r.rank, score=d["score"], why=r.why, signals=d["signals"],
                   product=ProductOut.of(r.product))


class FacetValue(BaseModel):
    value: str
    count: int


class Recognised(BaseModel):
    value: str
    probability: float


class SearchOut(BaseModel):
    catalog: str
    query: str | None = Field(None, description="the text searched (photo search: the optional text)")
    mode: str = Field(description="smart | hybrid | keyword | dense; similar; photo")
    total: int = Field(description="products matching the filters (results holds the top k)")
    took_ms: float
    filters: list[str] = Field(description="active filters as chip labels, e.g. [\"under $50\", \"Black\"]")
    relaxed: list[str] = Field(description="filters dropped because nothing met them all")
    parsed: dict[str, Any] = Field(description="how the text was understood (price, colours, categories, ...)")
    facets: dict[str, list[FacetValue]] = Field(description="values to narrow by, with counts")
    recognised: dict[str, list[Recognised]] = Field({}, description="photo search: attributes seen in the photo")
    results: list[ResultOut]

    @classmethod
    def of(cls, response: SearchResponse, catalog: str, query: str | None, took_ms: float) -> "SearchOut":
        return cls(catalog=catalog, query=query, mode=response.mode, total=response.total,
                   took_ms=round(took_ms, 1), filters=response.filters.describe(),
                   relaxed=list(response.relaxed), parsed=response.query.to_dict(),
                   facets={f: [FacetValue(value=v, count=n) for v, n in values]
                           for f, values in response.facets.items()},
                   recognised={a: [Recognised(value=v, probability=round(p, 4)) for v, p in values]
                               for a, values in response.recognised.items()},
                   results=[ResultOut.of(r) for r in response.results])


class RecommendationsOut(BaseModel):
    catalog: str
    shopper: str = Field(description="the anonymous shopper id, in canonical form")
    took_ms: float
    results: list[ResultOut]


class CatalogOut(BaseModel):
    name: str
    description: str = ""
    default: bool = Field(description="searched when a request names no catalog")
    indexed: bool = Field(description="its index is built and current (else the first request builds it)")
    products: int | None = Field(None, description="number of products, when indexed")


class CatalogsOut(BaseModel):
    catalogs: list[CatalogOut]
