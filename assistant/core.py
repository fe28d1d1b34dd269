"""`Assistant`: the one object both shells (CLI and Gradio) call. It owns the settings, the shared
encoder and one search engine per catalog, each loaded once and reused.

A loaded catalog follows its index on disk: when `assistant sync` (or a build) swaps in a new
version, the next request (checked at most every `index_watch_seconds`, one stat of the manifest)
starts loading it in a background thread and keeps answering from the old engine; the new engine
replaces it under the lock once it is ready. Requests already running keep the engine object they
started with, so no search ever sees half of one version and half of the other."""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from assistant.config import Settings, get_settings
from assistant.language.translate import reader_for
from assistant.models.encoders import load_text_encoder
from assistant.errors import CatalogError, ShopperError
from assistant.retrieval.explain import explain_all
from assistant.retrieval.index import IndexProblem, ensure_index, index_folder, load_index
from assistant.retrieval.search import MODES, Filters, SearchEngine, SearchResponse
from assistant.language.understand import ParsedQuery

log = logging.getLogger(__name__)


class Assistant:
    """Search any configured catalog; heavy parts are created on first use and shared."""

    def __init__(self, settings: Settings | None = None, progress: bool = True) -> None:
        self.settings = settings or get_settings()
        self.progress = progress
        self._engines: dict[str, SearchEngine] = {}
        self._lock = threading.Lock()
        self._watch: dict[str, tuple[float, tuple | None]] = {}  # catalog -> (checked at, manifest stat)
        self._reloading: set[str] = set()
        self._photo_searches: dict = {}  # catalog -> PhotoSearch (docs/photos.md)
        self._photo_lock = threading.Lock()  # a photo index build never blocks text search

    def catalogs(self) -> list[str]:
        return self.settings.available_catalogs()

    def default_catalog(self) -> str:
        return self.settings.resolve_default_catalog()

    def engine(self, catalog: str | None = None) -> SearchEngine:
        """The search engine for a catalog, building its index first if needed (a newer version
        on disk is picked up in the background, see the module docstring)."""
        name = catalog or self.default_catalog()
        if name not in self.settings.catalogs:
            raise CatalogError(f"Unknown catalog '{name}'. Available: {', '.join(self.catalogs()) or 'none'}.")
        with self._lock:
            if name not in self._engines:
                self._watch[name] = (time.monotonic(), self._manifest_stat(name))
                self._engines[name] = self._load_engine(name, ensure_index(name, self.settings, progress=self.progress))
            engine = self._engines[name]
        self._check_for_new_version(name, engine)
        return engine

    def _load_engine(self, name: str, index) -> SearchEngine:
        encoder = load_text_encoder(self.settings.text_model, self.settings.num_threads)
        engine = SearchEngine(index, encoder, self.settings.candidate_k, self.settings.rrf_k)
        engine.matcher  # warm the product-type matcher before the first query
        engine.reader = reader_for(str(self.settings.apertium_dir), str(self.settings.freedict_dir),
                                   self.settings.cedict_path)
        return engine

    def _manifest_stat(self, name: str) -> tuple | None:
        try:
            st = (index_folder(name, self.settings) / "manifest.json").stat()
        except OSError:  # no index yet, or between the two renames of a swap
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def _check_for_new_version(self, name: str, engine: SearchEngine) -> None:
        """Cheap, throttled: one stat of the manifest; a changed one whose version differs from
        the loaded engine's starts a background reload."""
        every = self.settings.index_watch_seconds
        now = time.monotonic()
        checked, stat = self._watch.get(name, (0.0, None))
        if every <= 0 or now - checked < every:
            return
        current = self._manifest_stat(name)
        with self._lock:
            if current is None or name in self._reloading:  # mid-swap, or busy: look again next time
                self._watch[name] = (now, stat)
                return
            self._watch[name] = (now, current)
            if current == stat:
                return
            try:
                version = json.loads((index_folder(name, self.settings) / "manifest.json").read_text()).get("version")
            except (OSError, ValueError):
                self._watch[name] = (now, stat)  # half-written or gone: look again next time
                return
            if version == engine.index.manifest.get("version"):
                return
            self._reloading.add(name)
        threading.Thread(target=self._reload, args=(name, version), daemon=True,
                         name=f"reload-{name}").start()

    def _reload(self, name: str, version: str | None) -> None:
        """Load the new index version and swap the engine in; on any problem keep the old one."""
        _lower_priority(self.settings.speech_nice)  # text searches keep the cores meanwhile
        try:
            started = time.perf_counter()
            engine = self._load_engine(name, load_index(name, self.settings))
            with self._lock:
                self._engines[name] = engine
                self._photo_searches.pop(name, None)  # built on the old engine's products
            log.warning("catalog %s: loaded index version %s (%d products) in %.1f s", name,
                        engine.index.manifest.get("version"), len(engine.products),
                        time.perf_counter() - started)
        except (IndexProblem, CatalogError, OSError) as problem:
            log.warning("catalog %s: new index version %s not loaded, still serving the previous "
                        "one (%s); trying again when the index changes", name, version, problem)
        finally:
            with self._lock:
                self._reloading.discard(name)

    def validate_text(self, text: str) -> str:
        text = (text or "").strip()
        if not text:
            raise ShopperError("Please type what you are looking for, e.g. \"black running shoes\".")
        if len(text) > self.settings.max_message_chars:
            raise ShopperError(f"That message is {len(text):,} characters long; please keep it under "
                               f"{self.settings.max_message_chars:,}.")
        return "".join(c if c.isprintable() else " " for c in text)

    @staticmethod
    def validate_filters(filters: Filters | None) -> Filters | None:
        """Price bounds a shopper or a client sets (CLI flags, API parameters, chat refinements):
        each a finite number of 0 or more, the lowest not above the highest (issue 17, defect 9:
        -1, nan and 500..100 used to give silent empty results and chips like "under $-1")."""
        if filters is None:
            return None
        low, high = filters.price_min, filters.price_max
        for name, value in (("lowest", low), ("highest", high)):
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ShopperError(f"The {name} price must be a number of 0 or more (got {value:g}).")
        if low is not None and high is not None and low > high:
            raise ShopperError(f"The lowest price (${low:g}) is above the highest (${high:g}); "
                               "swap them or leave one out.")
        return filters

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
        self.validate_filters(filters)
        response = self.engine(catalog).search(query, k=k, mode=mode, filters=filters, strict=strict)
        self.validate_filters(response.filters)  # bounds the words set ("over 500 under 100") as well
        explain_all(response.results)
        return response

    # ------------------------------------------------------------------ photos (docs/photos.md)
    def photo_search(self, catalog: str | None = None, wait: bool = True):
        """The photo search of a catalog (its photo index is built on first use); see photo_index.py.
        `wait=False`: a shopper's request is told to come back while another thread builds it."""
        from assistant.vision.photo_index import PhotoSearch, ensure_photo_index, has_photos
        from assistant.vision.images import load_image_encoder

        name = catalog or self.default_catalog()
        engine = self.engine(name)
        cache = self._photo_searches
        if name in cache:
            return cache[name]
        if not self._photo_lock.acquire(blocking=wait):
            raise ShopperError("Photo search is still being prepared (the catalog's photos are being "
                               "indexed); please try again in a few minutes, or describe the item in words.")
        try:
            if name not in cache:
                if not has_photos(engine.index):
                    raise ShopperError(f"The '{name}' catalog has no product photos, so photo search "
                                       "isn't available there; describe the item in words instead.")
                photos = ensure_photo_index(engine.index, self.settings, progress=self.progress)
                encoder = load_image_encoder(self.settings.image_model, self.settings.image_weights,
                                             self.settings.num_threads)
                cache[name] = PhotoSearch(engine, photos, encoder)
            return cache[name]
        finally:
            self._photo_lock.release()

    def search_image(self, image, text: str | None = None, catalog: str | None = None,
                     k: int | None = None, filters: Filters | None = None,
                     drop: list[str] | None = None) -> SearchResponse:
        """Products that look like a photo (a path, bytes, PIL image or an earlier `PhotoQuery`).

        Recognised attributes come back on `response.recognised` and rank matching products
        first; `text` ("like this but in blue") overrides them; `drop` removes some (chips).
        """
        from assistant.vision.photo_index import PhotoQuery
        from assistant.vision.images import load_image

        k = self.settings.default_k if k is None else k
        if not 1 <= k <= self.settings.max_k:
            raise ShopperError(f"k must be between 1 and {self.settings.max_k}.")
        text = self.validate_text(text) if text and text.strip() else None
        self.validate_filters(filters)
        if not isinstance(image, PhotoQuery):  # check the file before loading any model
            image = load_image(image, max_bytes=self.settings.max_image_bytes,
                               max_pixels=self.settings.max_image_pixels)
        photos = self.photo_search(catalog)
        query = image if isinstance(image, PhotoQuery) else photos.understand(image)
        return photos.search(query, text=text, k=k, filters=filters, drop=set(drop or ()))

    def understand_image(self, image, catalog: str | None = None):
        """A photo -> `PhotoQuery` (vector + recognised attributes), so a shell can search it again
        (e.g. after a chip is removed) without keeping the uploaded file."""
        from assistant.vision.images import load_image

        image = load_image(image, max_bytes=self.settings.max_image_bytes,
                           max_pixels=self.settings.max_image_pixels)
        return self.photo_search(catalog).understand(image)

    def transcribe(self, audio, language: str | None = None, task: str | None = None,
                   catalog: str | None = None):
        """A recording (path or bytes) -> `speech.Transcript`, with the configured Whisper backend;
        bad or silent audio raises a ShopperError (docs/voice.md). With `speech_prompt` catalog or catalog-list
        the catalog's own words prompt the decoder.

        The transcript is then read against the catalog (`speech.reading.read`): `text` is the reading
        to search (a misheard word that sounds like a catalog word is read as it), `confidence`,
        `decision` (search | confirm | repeat) and `alternatives` say whether to search it, ask "Did
        you mean X or Y?", or ask the shopper to say it again."""
        from assistant.speech.reading import read
        from assistant.speech.transcribe import transcribe

        engine = self.engine(catalog)
        vocab = engine.vocab if self.settings.speech_prompt != "none" else None
        heard = background_worker(self.settings.speech_nice).submit(
            transcribe, audio, self.settings, language=language, task=task, vocab=vocab,
            english=lambda word: _english(word, engine)).result()
        s = self.settings
        return read(heard, engine, nbest_weight=s.speech_nbest_weight, search_at=s.speech_search_at,
                    ask_at=s.speech_ask_at, phonetic=s.speech_phonetic, english=lambda w: _english(w, engine))


def _english(word: str, engine) -> bool:
    """An everyday word for the speech prompt: one the catalog's titles use, or one no foreign
    dictionary knows ("zapatos", "montre" are left out of an English prompt)."""
    if all(w in engine.vocab.known_words for w in word.split()):
        return True
    reader = engine.reader
    return reader is None or not any(reader._knows(word, lang) for lang in ("es", "fr", "de", "it", "pt"))


_BACKGROUND: dict[int, ThreadPoolExecutor] = {}
_BACKGROUND_LOCK = threading.Lock()


def _lower_priority(nice: int) -> None:
    """Raise this thread's nice value. On Linux nice is per thread and inherited by threads it
    creates, so a model first run from here (Whisper's CTranslate2 workers and their OpenMP
    threads) yields the CPU to text searches instead of doubling their latency under load."""
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, max(os.getpriority(os.PRIO_PROCESS, tid), nice)))
    except (AttributeError, OSError):  # not Linux, or not permitted: run at normal priority
        log.debug("could not lower the worker's priority")


def background_worker(nice: int) -> ThreadPoolExecutor:
    """One long-lived worker thread per nice value for heavy, rare work (speech)."""
    with _BACKGROUND_LOCK:
        if nice not in _BACKGROUND:
            _BACKGROUND[nice] = ThreadPoolExecutor(1, thread_name_prefix=f"nice{nice}",
                                                   initializer=_lower_priority, initargs=(nice,))
        return _BACKGROUND[nice]
