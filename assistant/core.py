"""`Assistant`: the one object both shells (CLI and Gradio) call. It owns the settings, the shared
encoder and one search engine per catalog, each loaded once and reused."""

from __future__ import annotations

import logging
import threading

from assistant.config import Settings, get_settings
from assistant.encoders import load_text_encoder
from assistant.errors import CatalogError, ShopperError
from assistant.explain import explain_all
from assistant.index import ensure_index
from assistant.search import MODES, Filters, SearchEngine, SearchResponse
from assistant.understand import ParsedQuery

log = logging.getLogger(__name__)


class Assistant:
    """Search any configured catalog; heavy parts are created on first use and shared."""

    def __init__(self, settings: Settings | None = None, progress: bool = True) -> None:
        self.settings = settings or get_settings()
        self.progress = progress
        self._engines: dict[str, SearchEngine] = {}
        self._lock = threading.Lock()

    def catalogs(self) -> list[str]:
        return self.settings.available_catalogs()

    def default_catalog(self) -> str:
        return self.settings.resolve_default_catalog()

    def engine(self, catalog: str | None = None) -> SearchEngine:
        """The search engine for a catalog, building its index first if needed."""
        name = catalog or self.default_catalog()
        if name not in self.settings.catalogs:
            raise CatalogError(f"Unknown catalog '{name}'. Available: {', '.join(self.catalogs()) or 'none'}.")
        with self._lock:
            if name not in self._engines:
                index = ensure_index(name, self.settings, progress=self.progress)
                encoder = load_text_encoder(self.settings.text_model, self.settings.num_threads)
                self._engines[name] = SearchEngine(index, encoder, self.settings.candidate_k,
                                                   self.settings.rrf_k)
            return self._engines[name]

    def validate_text(self, text: str) -> str:
        text = (text or "").strip()
        if not text:
            raise ShopperError("Please type what you are looking for, e.g. \"black running shoes\".")
        if len(text) > self.settings.max_message_chars:
            raise ShopperError(f"That message is {len(text):,} characters long; please keep it under "
                               f"{self.settings.max_message_chars:,}.")
        return "".join(c if c.isprintable() else " " for c in text)

    def search(self, query: str | ParsedQuery, catalog: str | None = None, k: int | None = None,
               mode: str = "smart", filters: Filters | None = None,
               strict: bool = False) -> SearchResponse:
        """Ranked, explained results for one query."""
        if mode not in MODES:
            raise ShopperError(f"Unknown ranking mode '{mode}'. Use one of: {', '.join(MODES)}.")
        k = self.settings.default_k if k is None else k
        if not 1 <= k <= self.settings.max_k:
            raise ShopperError(f"k must be between 1 and {self.settings.max_k}.")
        if isinstance(query, str):
            query = self.validate_text(query)
        response = self.engine(catalog).search(query, k=k, mode=mode, filters=filters, strict=strict)
        explain_all(response.results)
        return response
