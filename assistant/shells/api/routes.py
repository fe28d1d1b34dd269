"""The HTTP JSON API a store's own site calls: search, products, similar products,
recommendations and photo search, served by the same process as the chat UI.

It is a thin shell like the CLI and the Gradio app: every request goes through `Assistant` with
the same checks and limits (text length, k, price bounds, photo size and pixels), and a request a
person can fix gets `{"error": "<their message>"}` with 400/404/413/422, never a traceback.
Endpoints are plain `def`s, so FastAPI runs the CPU-bound search in its threadpool and the event
loop keeps serving the Gradio UI meanwhile. Only configured catalogs are reachable: a `catalog`
parameter is a name, never a path.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Literal

from fastapi import APIRouter, Depends, FastAPI, File, Form, Path, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.core import Assistant
from assistant.errors import ShopperError, UnknownProduct
from assistant.retrieval.search import FILTER_FIELDS, MODES, Filters, SearchEngine
from assistant.shells.api.models import (CatalogOut, CatalogsOut, ErrorOut, ProductOut,
                                         RecommendationsOut, ResultOut, SearchOut)

log = logging.getLogger(__name__)

PREFIX = "/v1"
FORM_OVERHEAD = 64 * 1024  # multipart boundaries, headers and the small text fields around a photo
ERRORS = {status: {"model": ErrorOut} for status in (400, 404, 413, 422)}
BUSY = {503: {"model": ErrorOut, "description": "the catalog's photo index is being built; retry after Retry-After seconds"}}


class ApiError(Exception):
    """A refused request with its HTTP status and a message meant for the person."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.retry_after = status, retry_after


class FilterParams:
    """Hard filters, as the CLI's flags: price bounds and catalog facet values (repeatable)."""

    def __init__(self,
                 price_min: float | None = Query(None, description="lowest price, 0 or more"),
                 price_max: float | None = Query(None, description="highest price, not below price_min"),
                 color: list[str] = Query([], description="colour, repeatable"),
                 category: list[str] = Query([], description="category (any level of the path), repeatable"),
                 brand: list[str] = Query([], description="brand, repeatable"),
                 gender: list[str] = Query([], description="gender, repeatable")) -> None:
        self.filters = Filters(price_min=price_min, price_max=price_max, colors=color,
                               categories=category, brands=brand, genders=gender)

    def for_catalog(self, engine: SearchEngine) -> Filters:
        """Facet values in the catalog's own spelling when they differ only in case ("grey" for
        "Grey"); unknown values stay as given, so the answer reports them as relaxed."""
        f = self.filters
        for fname, facet in FILTER_FIELDS.items():
            known = {v.lower(): v for v in engine.policy.postings.get(facet, {})}
            setattr(f, fname, [known.get(v.lower(), v) for v in getattr(f, fname)])
        return f


def build_router(assistant: Assistant, default_catalog: str) -> APIRouter:
    settings = assistant.settings
    router = APIRouter(prefix=PREFIX, responses=ERRORS)
    photo_slots = threading.BoundedSemaphore(max(1, settings.photo_concurrency))  # as the UI's queue

    def catalog_name(name: str | None) -> str:
        name = name or default_catalog
        available = assistant.catalogs()
        if name not in available:
            raise ApiError(404, f"Unknown catalog '{name}'. Available: {', '.join(available) or 'none'}.")
        return name

    def check_k(k: int | None) -> int:
        k = settings.default_k if k is None else k
        if not 1 <= k <= settings.max_k:
            raise ShopperError(f"k must be between 1 and {settings.max_k}.")
        return k

    def position(engine: SearchEngine, catalog: str, product_id: str) -> int:
        try:
            return engine.position(product_id)
        except UnknownProduct:
            raise ApiError(404, f"No product with id '{product_id}' in the '{catalog}' catalog.") from None

    K = Query(None, description=f"number of results, 1 to {settings.max_k} (default {settings.default_k})")
    CATALOG = Query(None, description=f"catalog name (default '{default_catalog}'); see /catalogs")
    PRODUCT_ID = Path(description="the product's id in its catalog", max_length=256)

    @router.get("/catalogs", response_model=CatalogsOut, summary="Catalogs this server can search")
    def catalogs() -> CatalogsOut:
        from assistant.retrieval.index import IndexProblem, check_index

        out = []
        for name in assistant.catalogs():
            try:
                count, indexed = check_index(name, settings).get("count"), True
            except IndexProblem:
                count, indexed = None, False
            out.append(CatalogOut(name=name, description=settings.catalogs[name].description,
                                  default=name == default_catalog, indexed=indexed, products=count))
        return CatalogsOut(catalogs=out)

    @router.get("/search", response_model=SearchOut, summary="Search a catalog with text and filters")
    def search(q: str = Query("", description=f"what the shopper typed (at most {settings.max_message_chars} characters)"),
               catalog: str | None = CATALOG,
               mode: Literal[MODES] = Query("smart", description="smart (understands the text) | hybrid | keyword | dense"),
               k: int | None = K, filters: FilterParams = Depends()) -> SearchOut:
        name = catalog_name(catalog)
        text, k = assistant.validate_text(q), check_k(k)  # before loading a catalog
        assistant.validate_filters(filters.filters)
        engine = assistant.engine(name)
        started = time.perf_counter()
        response = assistant.search(text, catalog=name, k=k, mode=mode, filters=filters.for_catalog(engine))
        return SearchOut.of(response, name, text, (time.perf_counter() - started) * 1000)

    @router.get("/products/{product_id}", response_model=ProductOut, summary="One product by id")
    def product(product_id: str = PRODUCT_ID, catalog: str | None = CATALOG) -> ProductOut:
        name = catalog_name(catalog)
        engine = assistant.engine(name)
        return ProductOut.of(engine.products[position(engine, name, product_id)])

    @router.get("/products/{product_id}/similar", response_model=SearchOut,
                summary="Products like one product (nearest in meaning), with optional filters")
    def similar(product_id: str = PRODUCT_ID, catalog: str | None = CATALOG, k: int | None = K,
                filters: FilterParams = Depends()) -> SearchOut:
        name = catalog_name(catalog)
        k = check_k(k)
        assistant.validate_filters(filters.filters)
        engine = assistant.engine(name)
        position(engine, name, product_id)
        started = time.perf_counter()
        response = engine.similar(product_id, k=k, filters=filters.for_catalog(engine))
        return SearchOut.of(response, name, None, (time.perf_counter() - started) * 1000)

    @router.get("/recommendations", response_model=RecommendationsOut,
                summary="Recommendations for an anonymous shopper (from the local history store)")
    def recommendations(shopper: str = Query(description="the shopper's anonymous id (a UUID); "
                                                         "names and e-mail addresses are refused"),
                        catalog: str | None = CATALOG, k: int | None = K) -> RecommendationsOut:
        from assistant.recs.history import shopper_id
        from assistant.recs.recommend import get_recommender

        user, name, k = shopper_id(shopper), catalog_name(catalog), check_k(k)
        started = time.perf_counter()
        results = get_recommender(assistant, name).recommend(user, k=k)
        took_ms = round((time.perf_counter() - started) * 1000, 1)
        return RecommendationsOut(catalog=name, shopper=user, took_ms=took_ms,
                                  results=[ResultOut.of(r) for r in results])

    @router.post("/photo-search", response_model=SearchOut, responses=BUSY,
                 max_body_size=settings.max_image_bytes + FORM_OVERHEAD,  # streamed bodies are cut off here
                 summary="Products that look like an uploaded photo (JPEG, PNG, WebP, GIF)")
    def photo_search(photo: UploadFile = File(description=f"the picture, at most {settings.max_image_bytes / 1e6:.0f} MB"),
                     text: str | None = Form(None, description="optional words, e.g. \"but in blue\""),
                     catalog: str | None = CATALOG, k: int | None = K,
                     filters: FilterParams = Depends()) -> SearchOut:
        name, k = catalog_name(catalog), check_k(k)
        text = assistant.validate_text(text) if text and text.strip() else None
        assistant.validate_filters(filters.filters)
        limit = settings.max_image_bytes
        data = photo.file.read(limit + 1)  # bounded: the request body is capped as well
        if len(data) > limit:
            raise ApiError(413, too_large(limit))
        with photo_slots:
            engine = assistant.engine(name)
            try:
                assistant.photo_search(name, wait=False)
            except ShopperError as exc:  # a catalog with photos whose index is being built: come back
                from assistant.vision.photo_index import has_photos

                if has_photos(engine.index):
                    raise ApiError(503, str(exc), retry_after=30) from None
                raise
            started = time.perf_counter()
            response = assistant.search_image(data, text=text, catalog=name, k=k, filters=filters.for_catalog(engine))
        return SearchOut.of(response, name, text, (time.perf_counter() - started) * 1000)

    return router


def too_large(limit: int) -> str:
    return f"That photo is over {limit / 1e6:.0f} MB; please send one under {limit / 1e6:.0f} MB."


def _error(status: int, message: str, retry_after: int | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def api_app(assistant: Assistant, default_catalog: str) -> FastAPI:
    """The API as its own FastAPI app, mounted at /api by `server_app()`: docs at /api/docs,
    schema at /api/openapi.json, and JSON errors that do not touch the Gradio routes."""
    settings = assistant.settings
    # FastAPIOffline: FastAPI whose /docs page loads Swagger UI from files in the wheel, not a CDN
    # (the server runs on a loopback-only, offline machine)
    app = FastAPIOffline(title="Shopping assistant API", version="1", docs_url="/docs", redoc_url=None,
                         openapi_url="/openapi.json", static_url="/docs-static",
                         description="Search, products, similar products, recommendations and photo "
                                     "search over this server's catalogs. Errors are `{\"error\": message}`.")
    app.include_router(build_router(assistant, default_catalog))
    max_body = settings.max_image_bytes + FORM_OVERHEAD

    @app.middleware("http")
    async def announced_body_limit(request: Request, call_next):
        """A body announced larger than any upload allows is refused before a byte of it is read
        (a client sending `Expect: 100-continue` never sends it). Streamed bodies without a
        Content-Length are counted by the photo route's `max_body_size`."""
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > max_body:
            return _error(413, too_large(settings.max_image_bytes))
        return await call_next(request)

    @app.exception_handler(ApiError)
    def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, str(exc), exc.retry_after)

    @app.exception_handler(ShopperError)
    def shopper_error(request: Request, exc: ShopperError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors()[:3]:
            where = ".".join(str(p) for p in err.get("loc", ())[1:]) or "request"
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        return _error(422, "Invalid request: " + "; ".join(parts) + ".")

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 413:  # the body limit on photo uploads
            return _error(413, too_large(settings.max_image_bytes))
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("API request failed")  # keep serving; never send a traceback
        return _error(500, "Sorry, something went wrong on our side. Please try again.")

    return app
