"""`assistant sync`: apply a store's new export (adds, changes, deletes) without a full rebuild.

Products are diffed by id and content (their JSON); only products whose search text is new or
changed are embedded, every other vector is the old `vectors.npy` row, byte for byte. The cheap
parts (bm25s, FAISS from the vectors) are rebuilt whole, and the new version is written to a
temporary folder and swapped in (`index.write_index`), so readers see the old index or the new
one, never a mix. The manifest then records the export it came from (`source_path`, fingerprint)
and the sync (counts, seconds): freshness is judged against that file from then on, so the next
start neither rebuilds from the old export nor needs a config change. A running app notices the
new manifest version and loads it in the background (`Assistant.engine`).

Embedding dominates a full build (MiniLM on 2 cores: ~300 texts/s), so a 1% change costs about
1% of the embedding plus the load, bm25s and write time; measured by bench/sync.py (docs/sync.json).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from catalog.schema import Product

from assistant.config import CatalogSource, Settings
from assistant.errors import CatalogError
from assistant.models.encoders import TextEncoder, load_text_encoder
from assistant.language.text import Compounds
from assistant.retrieval.index import (CatalogIndex, IndexProblem, check_index, index_folder,
                                       load_report, read_manifest, write_index, writer_lock)

log = logging.getLogger(__name__)


@dataclass
class SyncResult:
    """What a sync did; also written to the manifest under `sync`."""

    catalog: str
    source: str
    added: int
    changed: int
    deleted: int
    unchanged: int
    embedded: int
    skipped: list[str]
    seconds: float
    full_build: str = ""  # why the whole catalog was embedded (no usable previous index), if it was

    def summary(self) -> str:
        text = (f"{self.catalog}: {self.added} added, {self.changed} changed, {self.deleted} deleted, "
                f"{self.unchanged} unchanged; {self.embedded} embedded in {self.seconds:.1f} s")
        if self.skipped:
            text += f"; {len(self.skipped)} bad rows skipped"
        if self.full_build:
            text += f" (full build: {self.full_build})"
        return text


def sync_source(name: str, settings: Settings, path: str | Path) -> CatalogSource:
    """The new export as a source; the catalog must be configured or have an index on disk."""
    if name not in settings.catalogs and read_manifest(name, settings) is None:
        known = sorted(set(settings.catalogs) | {p.name for p in settings.index_dir.glob("*")
                                                 if (p / "manifest.json").is_file()})
        raise CatalogError(f"unknown catalog {name!r}; known: {', '.join(known) or 'none'}")
    path = Path(path).resolve()
    if not path.exists():
        raise CatalogError(f"cannot read catalog {name!r}: {path} does not exist")
    probe = settings.model_copy(deep=True)  # the kind is told exactly as `--catalog PATH` tells it
    return probe.catalogs[probe.register_path(str(path))].model_copy()


def _previous(name: str, settings: Settings) -> tuple[dict, dict[str, int], list[str], np.ndarray]:
    """The intact current index: manifest, id -> row, the product JSON lines, the vectors."""
    manifest = check_index(name, settings, fresh=False)
    folder = index_folder(name, settings)
    lines = [l for l in (folder / "products.jsonl").read_text(encoding="utf-8").splitlines() if l.strip()]
    vectors = np.load(folder / "vectors.npy", allow_pickle=False)
    if len(vectors) != len(lines):
        raise IndexProblem(f"index for {name!r} is inconsistent ({len(vectors)} vectors, {len(lines)} products)")
    rows = {_product_id(line): i for i, line in enumerate(lines)}
    return manifest, rows, lines, vectors


_DECODER = json.JSONDecoder()


def _product_id(line: str) -> str:
    """The id of a `products.jsonl` line; pydantic writes it first, so only that string is decoded
    (a third of the time of parsing 100k whole lines)."""
    if line.startswith('{"id":'):
        return _DECODER.raw_decode(line, 6)[0]
    return json.loads(line)["id"]


def sync_index(name: str, settings: Settings, path: str | Path, encoder: TextEncoder | None = None,
               progress: bool = True) -> SyncResult:
    """Apply the export at `path` to catalog `name`'s index; return what changed.

    A bad export (unreadable, no usable rows) raises `CatalogError` before anything is written.
    Without a usable previous index (none yet, corrupt, other model) every product is embedded.
    """
    started = time.time()
    source = sync_source(name, settings, path)
    report = load_report(name, source)
    for err in report.errors:
        log.warning("catalog %s: skipped %s", name, err)
    encoder = encoder or load_text_encoder(settings.text_model, settings.num_threads)
    with writer_lock(name, settings):
        try:
            old_manifest, old_rows, old_lines, old_vectors = _previous(name, settings)
            full_build = ""
            compounds = Compounds(old_manifest.get("compounds", []))
        except (IndexProblem, OSError, ValueError, KeyError) as problem:
            old_rows, old_lines, old_vectors, full_build = {}, [], None, str(problem)
            compounds = None
        products = report.products
        added = changed = 0
        lines = [p.model_dump_json() for p in products]
        todo: list[int] = []  # positions in `products` whose text must be embedded
        reuse: list[tuple[int, int]] = []  # (new position, old row)
        for pos, product in enumerate(products):
            row = old_rows.get(product.id)
            if row is None:
                added += 1
                todo.append(pos)
                continue
            old_json = old_lines[row]
            if old_json == lines[pos]:
                reuse.append((pos, row))
                continue
            changed += 1
            if Product.model_validate_json(old_json).search_text() == product.search_text():
                reuse.append((pos, row))  # price, rating, image...: same text, same vector
            else:
                todo.append(pos)
        deleted = len(old_rows) - (len(products) - added)
        fresh = encoder.encode_documents([products[i].search_text() for i in todo], progress=progress) \
            if todo else None
        dim = fresh.shape[1] if fresh is not None else old_vectors.shape[1]
        vectors = np.empty((len(products), dim), dtype=np.float32)
        if reuse:
            new_pos, old_pos = map(np.asarray, zip(*reuse))
            vectors[new_pos] = old_vectors[old_pos]
        if todo:
            vectors[np.asarray(todo)] = fresh
        result = SyncResult(name, source.path, added, changed, deleted,
                            len(products) - added - changed, len(todo), [str(e) for e in report.errors],
                            0.0, full_build)
        result.seconds = round(time.time() - started, 2)
        record = asdict(result) | {"skipped": len(report.errors),
                                   "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        index: CatalogIndex = write_index(name, settings, source, products, vectors, encoder.name,
                                          report, started, extra={"sync": record}, progress=progress,
                                          lines=lines, compounds=compounds)
    result.seconds = round(time.time() - started, 2)
    log.info("%s (version %s)", result.summary(), index.manifest["version"])
    return result
