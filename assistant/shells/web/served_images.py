"""Product photos over HTTP: exactly the image files a catalog lists, and nothing else.

Gradio's `allowed_paths` takes folders, so serving a store's catalog that way exposed every file
beside it (a `.env`, the catalog export itself). Here each card gets an opaque URL
`/product-image/<token>`; the token is a keyed hash of one product's image path, registered when
a card for that product is rendered, and the route serves only registered tokens whose file is a
picture. Server paths never reach the page.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

ROUTE = "/product-image"
IMAGE_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
               ".webp": "image/webp", ".gif": "image/gif"}


class ProductImages:
    """Maps opaque tokens to the product photos that cards have shown. It grows at most to the
    number of distinct photos in the served catalogs, since only catalog image paths are added."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(16)  # tokens cannot be guessed from a path
        self._paths: dict[str, Path] = {}
        self._lock = threading.Lock()

    def url(self, image_path: str) -> str | None:
        """The URL a card uses for a local catalog photo, or None when it cannot be served."""
        path = Path(image_path)
        if path.suffix.lower() not in IMAGE_TYPES:
            return None
        token = hmac.new(self._key, str(path).encode(), hashlib.sha256).hexdigest()[:32]
        with self._lock:
            self._paths.setdefault(token, path)
        return f"{ROUTE}/{token}{path.suffix.lower()}"

    def photo_url(self, image: str) -> str | None:
        """What a page or an API client gets for a product's `image`: a remote URL as it is, a
        local catalog photo as its opaque URL, None when there is nothing to show."""
        if image and "://" in image:
            return image
        return self.url(image) if image else None

    def path(self, name: str) -> Path | None:
        token, _, _ = name.partition(".")
        with self._lock:
            path = self._paths.get(token)
        return path if path is not None and path.is_file() else None

    def router(self) -> APIRouter:
        router = APIRouter()

        @router.get(ROUTE + "/{name}", include_in_schema=False)
        def product_image(name: str) -> FileResponse:
            path = self.path(name)
            if path is None:
                raise HTTPException(status_code=404, detail="no such product photo")
            return FileResponse(path, media_type=IMAGE_TYPES[path.suffix.lower()],
                                headers={"Cache-Control": "private, max-age=3600"})

        return router


PRODUCT_IMAGES = ProductImages()
