"""Build, save, load and verify a catalog's indexes: FAISS (dense) + bm25s (keyword) + products.

Layout under `indexes/<catalog>/`: `products.jsonl`, `vectors.npy`, `dense/` (a saved FaissBackend), `keyword/`,
`manifest.json` (and `images/`, the photo index, which keeps its own manifest). The manifest records
the model, the catalog fingerprint, counts, build time, a version id and a SHA-256 of every file of
the text index (keyword/* included), so a stale index (catalog or model changed) is rebuilt and a
corrupt one (any file changed, missing or added) is reported and rebuilt instead of answering wrongly.
After `assistant sync` (sync.py) the manifest's `source_path` is the synced export, and freshness
is judged against that file (`current_source`), not the one the catalog was first built from.

Dense search goes through the one vector layer (`backend_from_settings`, tuned by the `vector_*`
settings): ids are row positions, each with `VECTOR_FIELDS`. With `vector_backend=milvus` they go
to a Milvus collection named after the catalog, recorded in the manifest as `vector_backend`, and
no `dense/` is written; `vectors.npy` stays the local copy the matcher and recommender read.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np
from tqdm import tqdm

from catalog.adapters import load_source
from catalog.schema import LoadReport, Product

from assistant.config import CATALOG_NAME, CatalogSource, Settings
from assistant.models.encoders import TextEncoder, load_text_encoder
from assistant.errors import CatalogError
from assistant.language.text import Compounds, tokenize
from assistant.language.vocabulary import catalog_compounds
from assistant.retrieval.vectors.backends import (FaissBackend, MilvusBackend, VectorBackend,
                                                 backend_from_settings, load_faiss)

log = logging.getLogger(__name__)
# 2: every file (keyword/* too) is checksummed; manifests carry a version id
# 3: dense search through the vector layer: `dense/` (a saved FaissBackend) replaces dense.faiss
FORMAT_VERSION = 3
PHOTO_DIR = "images"  # the photo index (vision/photo_index.py) lives inside the catalog's folder
DENSE_DIR = "dense"
# scalar fields written beside each vector in Milvus (the app filters by row mask; these let
# other clients of the collection filter on their own)
VECTOR_FIELDS = {"category": "str", "brand": "str", "gender": "str", "color": "str", "price": "float"}


class IndexProblem(Exception):
    """The index on disk is missing, stale or corrupt; the message says which."""


def index_folder(name: str, settings: Settings) -> Path:
    """The catalog's folder under the index root; refuses any name that would land elsewhere.

    Every write and delete of an index goes through here, so a catalog name (from a store's file
    name or config) can never make the build remove a folder outside `settings.index_dir`.
    """
    root = settings.index_dir.resolve()
    folder = (root / name).resolve()
    if not CATALOG_NAME.fullmatch(name) or folder.parent != root:
        raise CatalogError(f"catalog name {name!r} is not allowed: use letters, digits, '_' and '-'")
    return folder


def swap_in(tmp: Path, final: Path) -> None:
    """Replace `final` with the freshly written `tmp`: the old folder is renamed aside first and
    removed only after the new one is in place, so a crash never leaves no index at all."""
    old = final.with_name(final.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def writer_lock(name: str, settings: Settings):
    """One writer (build or sync) per catalog at a time, across processes (an flock on a dot-file
    beside the index folder): two writers would otherwise diff against, and swap over, each other."""
    folder = index_folder(name, settings)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.with_name(f".{name}.lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def index_files(folder: Path) -> list[str]:
    """Every file of the text index, as paths relative to its folder: all but the manifest itself
    and the photo index (checked by its own manifest)."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.is_file() and p.name != "manifest.json"
                  and p.relative_to(folder).parts[0] not in (PHOTO_DIR, f".{PHOTO_DIR}.building"))


def checksums(folder: Path) -> dict[str, str]:
    return {f: sha256(folder / f) for f in index_files(folder)}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(name: str, settings: Settings) -> dict | None:
    """The index's manifest as written, or None when there is none or it cannot be parsed."""
    try:
        return json.loads((index_folder(name, settings) / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def current_source(name: str, settings: Settings, manifest: dict | None = None) -> CatalogSource | None:
    """Where the catalog's products come from now: the export last applied by `assistant sync`
    (recorded in the manifest) while that file exists, else the configured source."""
    manifest = read_manifest(name, settings) if manifest is None else manifest
    if manifest and manifest.get("sync") and Path(manifest.get("source_path", "")).exists():
        return CatalogSource(kind=manifest["source_kind"], path=manifest["source_path"])
    return settings.catalogs.get(name)


def source_fingerprint(source: CatalogSource) -> str:
    """Changes whenever the catalog source changes (file bytes, or the label file of a folder)."""
    path = Path(source.path)
    files = [path / "styles.csv"] if path.is_dir() and (path / "styles.csv").exists() else (
        sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path])
    digest = hashlib.sha256(f"{FORMAT_VERSION}:{source.kind}".encode())
    for f in files:
        digest.update(f.name.encode())
        digest.update(sha256(f).encode())
    return digest.hexdigest()[:16]


@dataclass
class CatalogIndex:
    """Everything search needs for one catalog, loaded in memory."""

    name: str
    products: list[Product]
    vectors: np.ndarray       # one L2-normalised embedding per product, row = position
    keyword: bm25s.BM25
    manifest: dict
    backend: VectorBackend    # dense search (`search_rows`), ids = row positions

    @property
    def compounds(self) -> Compounds:
        """The catalog's compound words, derived at build (every fold of its text uses them)."""
        return Compounds(self.manifest.get("compounds", []))

    @property
    def model(self) -> str:
        return self.manifest["model"]


def _keyword_index(products: list[Product], compounds: Compounds) -> bm25s.BM25:
    corpus = [tokenize(p.search_text(), compounds=compounds) or ["__empty__"] for p in products]
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    return retriever


def collection_name(catalog: str) -> str:
    """A Milvus collection name for a catalog: letters, digits and _ only, not starting with a digit."""
    clean = re.sub(r"[^A-Za-z0-9_]", "_", catalog)
    return (clean if clean[:1].isalpha() or clean[:1] == "_" else f"c_{clean}")[:255]


def _vector_fields(p: Product) -> dict:
    return {"category": p.category[-1] if p.category else None, "brand": p.brand or None,
            "gender": p.gender or None, "color": p.colors[0] if p.colors else None, "price": p.price}


def dense_backend(name: str, settings: Settings, vectors: np.ndarray, products: list[Product],
                  ids: np.ndarray | None = None, collection: str | None = None) -> tuple[VectorBackend, dict]:
    """A fresh backend from the settings holding `vectors` (ids: row positions unless given) with
    the products' `VECTOR_FIELDS`; returns it and its manifest record. Shared by the text index
    and the photo index, so both search the way `assistant bench scale` measures."""
    ids = np.arange(len(vectors)) if ids is None else ids
    collection = collection or collection_name(name)
    try:
        backend = backend_from_settings(settings, int(vectors.shape[1]), VECTOR_FIELDS, collection, recreate=True)
    except ValueError as exc:
        raise CatalogError(str(exc)) from exc
    backend.add(ids, vectors, [_vector_fields(products[int(i)]) for i in ids])
    if isinstance(backend, MilvusBackend):
        return backend, {"kind": "milvus", "uri": settings.milvus_uri, "collection": backend.collection,
                         "count": len(ids), "fields": VECTOR_FIELDS}
    return backend, {"kind": "faiss", "family": backend.family, "count": len(ids), "fields": VECTOR_FIELDS}


def open_backend(name: str, settings: Settings, saved: Path | None, manifest_path: Path,
                 vectors: np.ndarray, products: list[Product], ids: np.ndarray | None = None,
                 collection: str | None = None) -> VectorBackend:
    """The backend the settings name, for a loaded index: FAISS read back from `saved` (None:
    built in memory from `vectors`), or the Milvus collection. Built again from the local vectors
    when what is there does not fit (a Milvus collection missing or off-count, an index built for
    the other backend); a new upload is recorded in the manifest (not checksummed), so the next
    load reuses it."""
    manifest = json.loads(manifest_path.read_text())
    record, count = manifest.get("vector_backend") or {}, len(vectors)
    if settings.vector_backend == "milvus":
        try:
            backend = backend_from_settings(settings, int(vectors.shape[1]), VECTOR_FIELDS,
                                            collection or collection_name(name))
        except ValueError as exc:
            raise CatalogError(str(exc)) from exc
        if record.get("kind") == "milvus" and record.get("uri") == settings.milvus_uri \
                and backend.count() == count:
            return backend
        log.warning("Milvus collection %s is missing or out of date: uploading %d vectors",
                    backend.collection, count)
        backend.close()
    elif saved is not None and (saved / "meta.json").exists():
        return load_faiss(saved, settings)
    elif saved is not None:
        log.warning("index for %s has no FAISS copy (built for %s): building it in memory",
                    name, record.get("kind"))
    backend, new = dense_backend(name, settings, vectors, products, ids, collection)
    if new["kind"] == "milvus":
        manifest["vector_backend"] = new
        manifest_path.write_text(json.dumps(manifest, indent=2))
    return backend


def write_index(name: str, settings: Settings, source: CatalogSource, products: list[Product],
                vectors: np.ndarray, encoder_name: str, report: LoadReport, started: float,
                extra: dict | None = None, progress: bool = False,
                lines: list[str] | None = None, compounds: Compounds | None = None) -> CatalogIndex:
    """Build FAISS + bm25s from products and their vectors, write them with a manifest to a temporary
    folder and swap it in. The photo index (`images/`) is carried over by hard links, so its
    cached photo vectors survive and only new photos are embedded again. `lines`: the products'
    JSON when the caller has it already (sync). `compounds`: None derives them from the products
    (a build); sync keeps the ones the catalog was built with, so its tokens do not shift under it."""
    backend, record = dense_backend(name, settings, vectors, products)
    if compounds is None:
        compounds = catalog_compounds(products)
    keyword = _keyword_index(products, compounds)
    final = index_folder(name, settings)
    tmp = final.with_name(f".{name}.{uuid.uuid4().hex[:8]}.building")
    tmp.mkdir(parents=True)
    try:
        with (tmp / "products.jsonl").open("w", encoding="utf-8") as fh:
            if lines is not None:
                fh.writelines(line + "\n" for line in lines)
            else:
                for p in tqdm(products, desc=f"writing {name}", unit="item", disable=not progress):
                    fh.write(p.model_dump_json() + "\n")
        if isinstance(backend, FaissBackend):
            backend.save(tmp / DENSE_DIR)
        keyword.save(str(tmp / "keyword"), show_progress=False)
        np.save(tmp / "vectors.npy", vectors)
        manifest = {
            "format": FORMAT_VERSION, "catalog": name, "version": uuid.uuid4().hex,
            "source_kind": source.kind, "source_path": str(source.path),
            "fingerprint": source_fingerprint(source),
            "model": settings.text_model, "encoder": encoder_name, "dim": int(vectors.shape[1]),
            "count": len(products), "skipped_rows": [str(e) for e in report.errors[:1000]],
            "skipped_count": len(report.errors), "vector_backend": record,
            "build_seconds": round(time.time() - started, 2),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "compounds": [list(pair) for pair in compounds.pairs],
            "checksums": checksums(tmp), **(extra or {}),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
        if (final / PHOTO_DIR).is_dir():
            shutil.copytree(final / PHOTO_DIR, tmp / PHOTO_DIR, copy_function=os.link)
        swap_in(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return CatalogIndex(name, products, vectors, keyword, manifest, backend)


def load_report(name: str, source: CatalogSource) -> LoadReport:
    """The source's products and bad rows; an unreadable or empty source is a `CatalogError`."""
    try:
        report = load_source(source.kind, source.path)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError, ValueError) as exc:
        raise CatalogError(f"cannot read catalog {name!r}: {exc}") from exc
    if not report.products:
        why = (f"{len(report.errors)} bad rows, first: {report.errors[0]}" if report.errors
               else "no product rows: the file is empty or has only a header")
        raise CatalogError(f"catalog {name!r} has no usable products in {source.path} ({why})")
    return report


def build_index(name: str, settings: Settings, progress: bool = True,
                report: LoadReport | None = None, source: CatalogSource | None = None) -> CatalogIndex:
    """Load the source, embed every product, write artifacts atomically, return the index."""
    previous = read_manifest(name, settings) or {}
    source = source or current_source(name, settings, previous)
    if source is None:
        raise CatalogError(f"unknown catalog {name!r}; known: {', '.join(sorted(settings.catalogs))}")
    # a rebuild of a synced catalog keeps its sync record, so it keeps following the synced export
    extra = {"sync": previous["sync"]} if previous.get("sync") and \
        previous.get("source_path") == str(source.path) else None
    started = time.time()
    report = report or load_report(name, source)
    for err in report.errors:
        log.warning("catalog %s: skipped %s", name, err)
    products = report.products
    encoder: TextEncoder = load_text_encoder(settings.text_model, settings.num_threads)
    vectors = encoder.encode_documents([p.search_text() for p in products], progress=progress)
    with writer_lock(name, settings):
        return write_index(name, settings, source, products, vectors, encoder.name, report, started,
                           extra=extra, progress=progress)


def check_index(name: str, settings: Settings, fresh: bool = True) -> dict:
    """Return the manifest if the index on disk is present, current and intact; else raise.

    `fresh=False` skips the comparison with the source (sync diffs an intact index against a new export).
    """
    folder = index_folder(name, settings)
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        raise IndexProblem(f"no index for catalog {name!r} yet")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, OSError) as exc:
        raise IndexProblem(f"index manifest for {name!r} is corrupt ({exc})") from exc
    if manifest.get("format") != FORMAT_VERSION:
        raise IndexProblem(f"index for {name!r} was built by another version")
    if manifest.get("model") != settings.text_model:
        raise IndexProblem(f"index for {name!r} used model {manifest.get('model')!r}, "
                           f"config says {settings.text_model!r}")
    source = current_source(name, settings, manifest)
    if fresh and source is not None and Path(source.path).exists() and \
            manifest.get("fingerprint") != source_fingerprint(source):
        raise IndexProblem(f"catalog {name!r} changed since its index was built")
    recorded = manifest.get("checksums") or {}
    present = index_files(folder)
    for fname in sorted(set(recorded) | set(present)):
        if fname not in recorded:
            raise IndexProblem(f"index for {name!r} has an unexpected file {fname} (corrupt)")
        if fname not in present or sha256(folder / fname) != recorded[fname]:
            raise IndexProblem(f"index file {fname} for {name!r} is missing or corrupt")
    if not any(f.startswith("keyword/") for f in recorded):
        raise IndexProblem(f"keyword index for {name!r} is missing")
    return manifest


def load_index(name: str, settings: Settings) -> CatalogIndex:
    """Load a verified index from disk (raises `IndexProblem` if it is not usable)."""
    manifest = check_index(name, settings)
    folder = index_folder(name, settings)
    try:
        with (folder / "products.jsonl").open(encoding="utf-8") as fh:
            products = [Product.model_validate_json(line) for line in fh if line.strip()]
        vectors = np.load(folder / "vectors.npy", mmap_mode="r", allow_pickle=False)
        keyword = bm25s.BM25.load(str(folder / "keyword"), show_progress=False)
        if len(vectors) != len(products):
            raise ValueError(f"{len(vectors)} vectors, {len(products)} products")
        faiss_copy = settings.vector_backend == "faiss" and (folder / DENSE_DIR / "meta.json").exists()
        backend = open_backend(name, settings, folder / DENSE_DIR, folder / "manifest.json", vectors,
                               products) if faiss_copy else None
    except Exception as exc:  # any parse failure means the files cannot be trusted
        raise IndexProblem(f"index for {name!r} could not be read ({exc})") from exc
    if backend is None:  # Milvus (connection errors are not a corrupt index), or no FAISS copy
        backend = open_backend(name, settings, folder / DENSE_DIR, folder / "manifest.json", vectors, products)
    if backend.count() != len(products):
        raise IndexProblem(f"index for {name!r} is inconsistent ({backend.count()} searchable vectors, "
                           f"{len(products)} products)")
    if settings.vector_backend == "milvus":  # open_backend may have recorded a new upload
        manifest = read_manifest(name, settings) or manifest
    return CatalogIndex(name, products, vectors, keyword, manifest, backend)


def ensure_index(name: str, settings: Settings, progress: bool = True,
                 notify=None) -> CatalogIndex:
    """Load the index, rebuilding it (with a progress bar) when missing, stale or corrupt."""
    return load_or_build(lambda: load_index(name, settings),
                         lambda: build_index(name, settings, progress=progress), notify)


def load_or_build(load, build, notify=None):
    """`load()`, or `build()` when what is on disk is missing, stale or corrupt (`IndexProblem`),
    saying why through `notify`: the text and the photo index recover the same way."""
    try:
        return load()
    except IndexProblem as problem:
        (notify or log.warning)(f"{problem}: building it now")
        return build()
