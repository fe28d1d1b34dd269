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
from pathlib import Path

from assistant.config import Settings, get_settings

from assistant.language.translate import reader_for
from assistant.language.wordnet import wordnet_for
from assistant.models.encoders import load_text_encoder
from assistant.errors import CatalogError, ShopperError
from assistant.retrieval.explain import explain_all
from assistant.retrieval.index import IndexProblem, ensure_index, index_folder, load_index, read_manifest
from assistant.retrieval.scope import photo_scope
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
        self._loading: dict[str, threading.Lock] = {}  # catalog -> held while its engine loads
        self.warmed: dict[str, object] = {}  # warm-up step -> seconds (or why it was skipped)
        self._types: dict[str, list[str]] = {}  # catalog -> leaf types, for catalogs not loaded

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
            engine = self._engines.get(name)
            loading = self._loading.setdefault(name, threading.Lock()) if engine is None else None
        if loading is not None:
            # one catalog loads under its own lock: the warm-up loading another catalog in the
            # background never holds up a search on a catalog that is already loaded
            with loading:
                with self._lock:
                    engine = self._engines.get(name)
                if engine is None:
                    stat = self._manifest_stat(name)
                    engine = self._load_engine(name, ensure_index(name, self.settings, progress=self.progress))
                    with self._lock:
                        self._watch[name] = (time.monotonic(), stat)
                        self._engines[name] = engine
        self._check_for_new_version(name, engine)
        return engine

    # ------------------------------------------------------------------ what a catalog carries
    def type_names(self, name: str) -> list[str]:
        """A catalog's leaf product types: from its loaded engine, else read from its source
        (no index is built for this); [] when it cannot be read."""
        engine = self._engines.get(name)
        if engine is not None:
            return sorted({p.category[-1] for p in engine.products if p.category})
        if name not in self._types:
            from catalog.adapters import load_source

            source = self.settings.catalogs[name]
            try:
                products = load_source(source.kind, source.path).products
            except (CatalogError, OSError, ValueError):
                log.warning("catalog %s: could not read its product types", name)
                products = []
            self._types[name] = sorted({p.category[-1] for p in products if p.category})
        return self._types[name]

    def scope_reference(self, catalog: str | None = None):
        """The other catalogs' product types this one lacks (`scope.Reference`), built once per
        loaded engine; what "we don't carry X here" compares a query with."""
        from assistant.retrieval.scope import Reference

        name = catalog or self.default_catalog()
        engine = self.engine(name)
        reference = getattr(engine, "scope_reference", None)
        if reference is None:
            others = {t: other for other in self.catalogs() if other != name for t in self.type_names(other)}
            reference = engine.scope_reference = Reference(engine.encoder, engine.matcher.names, others)
        return reference

    # ------------------------------------------------------------------ warm start (issue 20, item 10)
    def warm_in_background(self, first: str | None = None, photos: bool = True,
                           voice: bool = True) -> threading.Thread:
        """Start `warm_up` in a daemon thread and return at once (the server starts serving)."""
        thread = threading.Thread(target=self.warm_up, args=(first, photos, voice), daemon=True,
                                  name="warm-up")
        thread.start()
        return thread

    def warm_up(self, first: str | None = None, photos: bool = True, voice: bool = True) -> dict:
        """Load what the first request of each kind would otherwise pay for, most likely first:
        the first catalog (index, one query, foreign-language data, recommender, what it
        carries), the speech model (one decode, each catalog's decoder prompt), every other
        catalog whose index is built or cheap to build (a small file) the same way, then photo indexes: the first catalog's built if missing
        (as before), the others' loaded only when already built (a build takes minutes). A step
        that fails is logged and skipped. `self.warmed` records each step's seconds."""
        started = time.perf_counter()
        first = first or self.default_catalog()
        names = [first] + [n for n in self.catalogs() if n != first]
        self._warm_catalog(first)
        if voice:
            vocabs = [self._engines[first].vocab] if first in self._engines else []
            self._warm_step("voice", background_worker(self.settings.speech_nice).submit(
                _warm_speech, self.settings, vocabs).result)
        for name in names[1:]:
            if name not in self._engines and read_manifest(name, self.settings) is None \
                    and not _small_source(self.settings.catalogs.get(name), self.settings.warm_build_max_bytes):
                continue  # a big catalog never built: its build (minutes) waits for a shopper who picks it
            self._warm_catalog(name)
            if voice and name in self._engines:
                self._warm_step(f"{name}: voice prompt", background_worker(self.settings.speech_nice).submit(
                    _warm_speech, self.settings, [self._engines[name].vocab], False).result)
        for name in names if photos else []:
            if name in self._engines and (name == first or _photo_index_on_disk(name, self.settings)):
                self._warm_step(f"{name}: photos", self.photo_search, name)
        self.warmed["done"] = round(time.perf_counter() - started, 3)
        log.warning("warm start done in %.1f s: %s", self.warmed["done"],
                    ", ".join(f"{k} {v}" for k, v in self.warmed.items() if k != "done"))
        return self.warmed

    def _warm_catalog(self, name: str) -> None:
        self._warm_step(f"{name}: index", self.engine, name)
        engine = self._engines.get(name)
        if engine is None:
            return
        self._warm_step(f"{name}: query", self.search, engine.matcher.names[0] if engine.matcher.names
                        else "gift", catalog=name)
        if engine.reader is not None:
            self._warm_step(f"{name}: foreign words", engine.reader.warm)
        if engine.wordnet is not None:
            self._warm_step(f"{name}: WordNet", engine.wordnet.load)
        self._warm_step(f"{name}: recommender", _recommender, self, name)
        self._warm_step(f"{name}: what it carries", self.scope_reference, name)
        log.warning("warm start: catalog %s ready", name)

    def _warm_step(self, what: str, fn, *args, **kwargs) -> None:
        started = time.perf_counter()
        try:
            fn(*args, **kwargs)
            self.warmed[what] = round(time.perf_counter() - started, 3)
        except ShopperError as problem:  # e.g. a catalog without photos: nothing to warm
            self.warmed[what] = f"skipped: {problem}"
        except Exception:  # noqa: BLE001 - warming is best effort; the first request tries again
            log.exception("warm start: %s failed", what)
            self.warmed[what] = "failed"

    def _load_engine(self, name: str, index) -> SearchEngine:
        encoder = load_text_encoder(self.settings.text_model, self.settings.num_threads)
        engine = SearchEngine(index, encoder, self.settings.candidate_k, self.settings.rrf_k)
        engine.matcher  # warm the product-type matcher before the first query
        engine.reader = reader_for(str(self.settings.apertium_dir), str(self.settings.freedict_dir),
                                   self.settings.cedict_path)
        engine.wordnet = wordnet_for(str(self.settings.wordnet_dir))
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
        response = photos.search(query, text=text, k=k, filters=filters, drop=set(drop or ()))
        # a photo unlike anything in the catalog (a plain colour, a lamp in a fashion store): say
        # so and name the nearest types, instead of showing far-off products as if they matched
        response.out_of_scope = photo_scope(response.closest, [r.product.leaf_category for r in response.results])
        if response.out_of_scope is not None:
            response.results, response.total, response.facets = [], 0, {}
        return response

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
            english=engine.is_english).result()
        s = self.settings
        return read(heard, engine, nbest_weight=s.speech_nbest_weight, search_at=s.speech_search_at,
                    ask_at=s.speech_ask_at, phonetic=s.speech_phonetic, english=engine.is_english)


def _recommender(assistant: Assistant, name: str) -> None:
    from assistant.recs.recommend import get_recommender

    get_recommender(assistant, name)


def _small_source(source, max_bytes: int) -> bool:
    """A catalog cheap enough to build in the warm-up when it has no index yet."""
    try:
        path = Path(source.path)
        return path.is_file() and path.stat().st_size <= max_bytes
    except (AttributeError, OSError, TypeError):
        return False


def _photo_index_on_disk(name: str, settings: Settings) -> bool:
    from assistant.vision.photo_index import photo_dir

    return (photo_dir(name, settings) / "manifest.json").exists()


def _warm_speech(settings: Settings, vocabs: list, decode: bool = True) -> None:
    """Load the speech model and run it once on a short tone (its first decode is slow), then
    build each catalog's decoder prompt. Runs on the speech worker thread, as transcribe does."""
    import numpy as np

    from assistant.speech.transcribe import SAMPLE_RATE, load_backend, prompt_for, prompt_style

    recognizer = load_backend(settings)
    if decode:
        t = np.arange(SAMPLE_RATE, dtype=np.float32) / SAMPLE_RATE
        recognizer.recognize(0.1 * np.sin(2 * np.pi * 220 * t).astype(np.float32), "en", "transcribe", [], None)
    if settings.speech_prompt != "none":
        for vocab in vocabs:
            prompt_for(vocab, recognizer, settings.speech_prompt_tokens, prompt_style(settings))


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
