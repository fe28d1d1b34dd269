"""Vector backends behind one small interface: FAISS in-process (default) and Milvus by URI.

Why: large catalogs need ANN index families chosen by size, filters pushed into the vector
search, and add/change/delete without a rebuild; past one machine the same calls must run on
an existing distributed engine (Milvus), not on home-made sharding.

Ids are caller-chosen int64s. Filters are `{field: allowed}` where `allowed` is one value, a
list/set/tuple of values, or a range `{"min": lo, "max": hi}` (inclusive, either bound
optional). A product whose field is missing (None) never passes a filter on that field.
Scores are inner products (vectors are expected L2-normalised, so cosine).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence

import faiss
import numpy as np

FIELD_TYPES = ("str", "float")
FAMILIES = ("auto", "flat", "hnsw", "hnsw_fp16", "hnsw_sq8", "ivf_sq8", "ivf_pq")
GRAPH_FAMILIES = ("hnsw", "hnsw_fp16", "hnsw_sq8")  # an HNSW graph over float32, float16 or 8-bit vectors
EXACT_FAMILIES = ("flat",) + GRAPH_FAMILIES  # rows addressable in place: the exact-subset path works


def _as_ids(ids: Sequence[int]) -> np.ndarray:
    # arrays as they are: the app passes a row mask's np.flatnonzero on every query
    return np.asarray(ids if isinstance(ids, np.ndarray) else list(ids), dtype=np.int64).reshape(-1)


def _as_vectors(vectors, dim: int) -> np.ndarray:
    v = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(-1, dim))
    return v


def _is_range(allowed) -> bool:
    return isinstance(allowed, Mapping) and set(allowed) <= {"min", "max"}


def _allowed_values(allowed) -> list:
    if isinstance(allowed, (list, tuple, set, frozenset)):
        return list(allowed)
    return [allowed]


class VectorBackend(ABC):
    """Dense index over products: ids, vectors, a few filterable scalar fields."""

    def __init__(self, dim: int, fields: Mapping[str, str]):
        bad = {k: t for k, t in fields.items() if t not in FIELD_TYPES}
        if bad:
            raise ValueError(f"field types must be one of {FIELD_TYPES}: {bad}")
        self.dim = dim
        self.fields = dict(fields)

    def _check_filter(self, filter: Mapping | None) -> None:
        for name in filter or {}:
            if name not in self.fields:
                raise ValueError(f"unknown filter field {name!r}; known: {sorted(self.fields)}")

    @abstractmethod
    def add(self, ids: Sequence[int], vectors, fields: Sequence[Mapping] | None = None) -> None:
        """Add new products; an id already present is an error (use upsert)."""

    @abstractmethod
    def delete(self, ids: Sequence[int]) -> None:
        """Remove products; unknown ids are ignored."""

    def upsert(self, ids: Sequence[int], vectors, fields: Sequence[Mapping] | None = None) -> None:
        """Add or replace products (a changed product keeps its id)."""
        self.delete(ids)
        self.add(ids, vectors, fields)

    @abstractmethod
    def search(self, vector, k: int = 10, filter: Mapping | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (ids, scores), best first, among products passing `filter`."""

    @abstractmethod
    def count(self) -> int:
        """Live products."""

    def search_rows(self, vector, k: int = 10, allowed_rows=None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (ids, scores) among ids in `allowed_rows` (None: all). For callers whose filters
        are richer than field filters and arrive as a set of allowed ids (the app's row mask)."""
        if allowed_rows is None:
            return self.search(vector, k)
        ids, scores, _ = self._widened(vector, k, _as_ids(allowed_rows))
        return ids, scores

    def _widened(self, vector, k: int, allowed: np.ndarray, cap: int | None = None):
        """Search wider and keep allowed ids, widening until k pass or everything (or `cap`)
        was searched; returns (ids, scores, complete)."""
        total = self.count()
        k = min(k, len(allowed), total)
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32), True
        limit = min(total, cap or total)
        width = min(limit, max(2 * k, int(1.5 * k * total / len(allowed))))
        while True:
            ids, scores = self.search(vector, width)
            keep = np.isin(ids, allowed)
            if keep.sum() >= k or width >= total:
                return ids[keep][:k], scores[keep][:k], True
            if width >= limit:
                return ids[keep][:k], scores[keep][:k], False
            width = min(limit, 4 * width)


class FaissBackend(VectorBackend):
    """In-process FAISS. Rows are append-only; deletes/changes tombstone the old row, and
    filters plus tombstones become one IDSelectorBitmap, so no family needs remove_ids."""

    def __init__(self, dim: int, fields: Mapping[str, str], family: str = "auto",
                 flat_threshold: int = 50_000, hnsw_m: int = 32, ef_construction: int = 80,
                 ef_search: int = 128, nlist: int | None = None, nprobe: int = 32,
                 pq_m: int = 48, compact_ratio: float = 0.25, exact_below: float = 0.02,
                 large_family: str = "hnsw_fp16", large_threshold: int = 500_000):
        super().__init__(dim, fields)
        if family not in FAMILIES:
            raise ValueError(f"unknown index family {family!r}: use one of {FAMILIES}")
        self.family_setting = family
        self.flat_threshold, self.hnsw_m = flat_threshold, hnsw_m
        self.ef_construction, self.ef_search = ef_construction, ef_search
        self.nlist, self.nprobe, self.pq_m = nlist, nprobe, pq_m
        self.compact_ratio, self.exact_below = compact_ratio, exact_below
        if large_family not in FAMILIES[1:]:
            raise ValueError(f"unknown large index family {large_family!r}: use one of {FAMILIES[1:]}")
        self.large_family, self.large_threshold = large_family, large_threshold
        self.index: faiss.Index | None = None
        self.family: str | None = None
        self.row_ids = np.zeros(0, dtype=np.int64)
        self.alive = np.zeros(0, dtype=bool)
        self.row_of: dict[int, int] = {}
        self._identity_checked = -1  # row count at which `_ids_are_rows` last looked
        # string fields are stored as int32 codes (-1 = missing): np.isin on ints stays fast at 1M rows
        self.codes: dict[str, dict[str, int]] = {k: {} for k, t in self.fields.items() if t == "str"}
        self._posting_cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.columns: dict[str, np.ndarray] = {
            k: np.zeros(0, dtype=np.int32 if t == "str" else np.float64) for k, t in self.fields.items()}

    # building -------------------------------------------------------------------------
    def _pick_family(self, n: int) -> str:
        if self.family_setting != "auto":
            return self.family_setting
        if n < self.flat_threshold:
            return "flat"
        return "hnsw" if n < self.large_threshold else self.large_family

    def _new_index(self, family: str, train: np.ndarray) -> faiss.Index:
        d, ip = self.dim, faiss.METRIC_INNER_PRODUCT
        if family == "flat":
            return faiss.IndexFlatIP(d)
        if family == "hnsw":
            index = faiss.IndexHNSWFlat(d, self.hnsw_m, ip)
            index.hnsw.efConstruction = self.ef_construction
            index.hnsw.efSearch = self.ef_search
            return index
        n = len(train)
        if family in ("hnsw_fp16", "hnsw_sq8"):
            # 2 or 1 bytes per dimension (2x / 4x smaller than HNSW-flat); SQ8 ranges from a sample
            qtype = faiss.ScalarQuantizer.QT_fp16 if family == "hnsw_fp16" else faiss.ScalarQuantizer.QT_8bit
            index = faiss.IndexHNSWSQ(d, qtype, self.hnsw_m, ip)
            index.hnsw.efConstruction = self.ef_construction
            index.hnsw.efSearch = self.ef_search
            index.train(train if n <= 100_000 else train[np.random.default_rng(0).choice(n, 100_000, replace=False)])
            return index
        nlist = self.nlist or int(max(1, min(2 * np.sqrt(n), n // 39 or 1)))
        quantizer = faiss.IndexFlatIP(d)
        if family == "ivf_sq8":
            index = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit, ip)
        else:
            index = faiss.IndexIVFPQ(quantizer, d, nlist, self.pq_m, 8, ip)
        cap = 50 * nlist  # k-means on a sample: training cost stays flat as the catalog grows
        sample = train if n <= cap else train[np.random.default_rng(0).choice(n, cap, replace=False)]
        index.train(sample)
        index.nprobe = min(nlist, self.nprobe)
        return index

    def add(self, ids, vectors, fields=None) -> None:
        ids = _as_ids(ids)
        vectors = _as_vectors(vectors, self.dim)
        fields = list(fields) if fields is not None else [{} for _ in ids]
        if not (len(ids) == len(vectors) == len(fields)):
            raise ValueError("ids, vectors and fields must have the same length")
        dup = [int(i) for i in ids if int(i) in self.row_of]
        if dup or len(set(ids.tolist())) != len(ids):
            raise ValueError(f"ids already present or repeated (use upsert): {dup[:5]}")
        if not len(ids):
            return
        if self.index is None:
            self.family = self._pick_family(len(ids))
            self.index = self._new_index(self.family, vectors)
        start = len(self.row_ids)
        self.index.add(vectors)
        self.row_ids = np.concatenate([self.row_ids, ids])
        self.alive = np.concatenate([self.alive, np.ones(len(ids), dtype=bool)])
        for offset, i in enumerate(ids.tolist()):
            self.row_of[i] = start + offset
        for name, kind in self.fields.items():
            raw = [f.get(name) for f in fields]
            if kind == "str":
                vocab = self.codes[name]
                col = np.array([-1 if x is None else vocab.setdefault(str(x), len(vocab)) for x in raw],
                               dtype=np.int32)
            else:
                col = np.array([np.nan if x is None else float(x) for x in raw], dtype=np.float64)
            self.columns[name] = np.concatenate([self.columns[name], col])

    def delete(self, ids) -> None:
        for i in _as_ids(ids).tolist():
            row = self.row_of.pop(i, None)
            if row is not None:
                self.alive[row] = False
        dead = len(self.alive) - len(self.row_of)
        if dead and dead > self.compact_ratio * len(self.alive):
            self.compact()

    def compact(self) -> None:
        """Rebuild without tombstoned rows (only reached after many deletes)."""
        rows = np.flatnonzero(self.alive)
        if self.family in ("ivf_sq8", "ivf_pq"):
            self.index.make_direct_map()  # IVF codes are approximate: compaction re-encodes them
        vectors = self.index.reconstruct_batch(rows) if len(rows) else np.zeros((0, self.dim), np.float32)
        ids = self.row_ids[rows]
        names = {k: {c: v for v, c in vocab.items()} for k, vocab in self.codes.items()}
        fields = [{k: (names[k].get(int(self.columns[k][r])) if t == "str"
                       else None if np.isnan(self.columns[k][r]) else float(self.columns[k][r]))
                   for k, t in self.fields.items()} for r in rows]
        family = self.family
        self.__init__(self.dim, self.fields, family or self.family_setting, self.flat_threshold,
                      self.hnsw_m, self.ef_construction, self.ef_search, self.nlist, self.nprobe,
                      self.pq_m, self.compact_ratio, self.exact_below, self.large_family,
                      self.large_threshold)
        if len(ids):
            self.add(ids, vectors, fields)

    # searching ------------------------------------------------------------------------
    def _postings(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(rows sorted by code, sorted codes) for a string field; rebuilt lazily after adds."""
        cached = self._posting_cache.get(name)
        if cached is None or len(cached[0]) != len(self.alive):
            order = np.argsort(self.columns[name], kind="stable")
            cached = (order, self.columns[name][order])
            self._posting_cache[name] = cached
        return cached

    def passing_rows(self, filter: Mapping | None) -> np.ndarray:
        """Rows that are alive and pass `filter`, without touching every row when a string
        filter narrows things first (posting lists): filtered queries stay fast at 1M rows."""
        self._check_filter(filter)
        strs = [n for n in (filter or {}) if self.fields[n] == "str" and not _is_range(filter[n])]
        if not strs:
            return np.flatnonzero(self.mask(filter))
        first, vocab = strs[0], self.codes[strs[0]]
        order, sorted_codes = self._postings(first)
        parts = []
        for v in _allowed_values(filter[first]):
            code = vocab.get(str(v))
            if code is not None:
                lo, hi = np.searchsorted(sorted_codes, [code, code + 1])
                parts.append(order[lo:hi])
        # a stable argsort keeps each code's rows ascending: only several values need a merge
        rows = (parts[0] if len(parts) == 1 else np.sort(np.concatenate(parts))) if parts else np.zeros(0, dtype=np.int64)
        rows = rows[self.alive[rows]]
        for name, allowed in filter.items():
            if name != first and len(rows):
                rows = rows[self._passes(name, allowed, self.columns[name][rows])]
        return rows

    def _passes(self, name: str, allowed, col: np.ndarray) -> np.ndarray:
        if _is_range(allowed):
            with np.errstate(invalid="ignore"):
                ok = ~np.isnan(col)
                if allowed.get("min") is not None:
                    ok &= col >= allowed["min"]
                if allowed.get("max") is not None:
                    ok &= col <= allowed["max"]
            return ok
        if self.fields[name] == "str":
            vocab = self.codes[name]
            wanted = [vocab[str(v)] for v in _allowed_values(allowed) if str(v) in vocab]
            return np.isin(col, np.array(wanted, dtype=np.int32))
        return np.isin(col, np.array([float(v) for v in _allowed_values(allowed)]))

    def mask(self, filter: Mapping | None) -> np.ndarray:
        """Rows that are alive and pass every filter."""
        self._check_filter(filter)
        keep = self.alive.copy()
        for name, allowed in (filter or {}).items():
            keep &= self._passes(name, allowed, self.columns[name])
        return keep

    def _params(self, selector, selectivity: float):
        if self.family in GRAPH_FAMILIES:
            # the walk's ef-bounded result set keeps only passing nodes, so a filter passing a share s
            # leaves ~ef*s useful candidates: widen ef by 1/s (measured in docs/scaling.md)
            ef = int(min(4096, self.ef_search / max(selectivity, 1e-3)))
            return faiss.SearchParametersHNSW(sel=selector, efSearch=max(self.ef_search, ef))
        if self.family in ("ivf_sq8", "ivf_pq"):
            nprobe = int(min(self.index.nlist, self.nprobe / max(selectivity, 1e-3) ** 0.5))
            return faiss.SearchParametersIVF(sel=selector, nprobe=max(self.nprobe, nprobe))
        return faiss.SearchParameters(sel=selector)

    def search(self, vector, k=10, filter=None):
        if self.index is None or not self.row_of:
            self._check_filter(filter)
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        q = _as_vectors(vector, self.dim)[:1]
        if not filter and len(self.row_of) == len(self.row_ids):
            params = None
            if self.family in GRAPH_FAMILIES:
                params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, k))
            scores, rows = self.index.search(q, min(k, self.index.ntotal), params=params)
        else:
            return self._search_passing(q, self.passing_rows(filter), k)
        rows, scores = rows[0], scores[0]
        ok = rows >= 0
        return self.row_ids[rows[ok]], scores[ok].astype(np.float32)

    def search_rows(self, vector, k=10, allowed_rows=None):
        if allowed_rows is None or self.index is None:
            return self.search(vector, k)
        allowed = _as_ids(allowed_rows)
        n = len(self.row_ids)
        if len(self.row_of) == n and self._ids_are_rows():
            # the app's case (ids = row positions, nothing deleted): no per-id lookup, which at
            # 1M rows and a broad filter would cost more than the search itself
            passing = np.unique(allowed[(allowed >= 0) & (allowed < n)])
        else:
            rows = [self.row_of.get(i) for i in allowed.tolist()]
            passing = np.array(sorted(r for r in rows if r is not None), dtype=np.int64)
        return self._search_passing(_as_vectors(vector, self.dim)[:1], passing, k)

    def _ids_are_rows(self) -> bool:
        """Whether id i is row i (checked once per row count: rows are append-only)."""
        n = len(self.row_ids)
        if getattr(self, "_identity_checked", -1) != n:
            self._identity = bool(np.array_equal(self.row_ids, np.arange(n, dtype=np.int64)))
            self._identity_checked = n
        return self._identity

    def _search_passing(self, q: np.ndarray, passing: np.ndarray, k: int):
        """Top-k among live rows `passing`: exact scan when few pass, else the ANN selector path."""
        if not len(passing):
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        share = len(passing) / len(self.alive)
        if self.family in EXACT_FAMILIES and share < self.exact_below:
            # few rows pass: scoring just those rows exactly beats a starved graph walk
            return self._exact_subset(q[0], passing, k)
        keep = np.zeros(len(self.alive), dtype=bool)
        keep[passing] = True
        bits = np.packbits(keep, bitorder="little")
        selector = faiss.IDSelectorBitmap(len(keep), faiss.swig_ptr(bits))
        scores, rows = self.index.search(q, min(k, len(passing)), params=self._params(selector, share))
        rows, scores = rows[0], scores[0]
        ok = rows >= 0
        return self.row_ids[rows[ok]], scores[ok].astype(np.float32)

    def _exact_subset(self, q: np.ndarray, rows: np.ndarray, k: int):
        if self.family in ("hnsw_sq8", "hnsw_fp16"):
            return self._exact_subset_sq(q, rows, k)
        flat = self.index if self.family == "flat" else faiss.downcast_index(self.index.storage)
        xb = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * self.dim).reshape(flat.ntotal, self.dim)
        # faiss.knn, not numpy's BLAS: it honours faiss's thread count, and a multi-threaded
        # BLAS call on a busy 2-core machine costs ~8x more than this single-threaded scan
        scores, top = faiss.knn(np.ascontiguousarray(q[None]), xb[rows], min(k, len(rows)),
                                metric=faiss.METRIC_INNER_PRODUCT)
        top, scores = top[0], scores[0]
        ok = top >= 0
        return self.row_ids[rows[top[ok]]], scores[ok].astype(np.float32)

    def _exact_subset_sq(self, q: np.ndarray, rows: np.ndarray, k: int):
        """Exact scores against the stored float16 / 8-bit codes of just `rows`: gather the codes,
        then one pass of faiss's SIMD code scanner (no decode buffer; ~3 ms for 10k rows)."""
        storage = faiss.downcast_index(self.index.storage)
        codes = faiss.rev_swig_ptr(storage.codes.data(), storage.ntotal * storage.code_size)
        sub = np.ascontiguousarray(codes.reshape(storage.ntotal, storage.code_size)[rows])
        labels = np.ascontiguousarray(rows, dtype=np.int64)
        q = np.ascontiguousarray(q, dtype=np.float32)
        k = min(k, len(rows))
        scores, top = np.full(k, -np.inf, dtype=np.float32), np.full(k, -1, dtype=np.int64)
        scanner = storage.sq.select_InvertedListScanner(faiss.METRIC_INNER_PRODUCT, None, False, None, False)
        scanner.set_query(faiss.swig_ptr(q))
        scanner.set_list(0, 0)
        scanner.scan_codes(len(rows), faiss.swig_ptr(sub), faiss.swig_ptr(labels), faiss.swig_ptr(scores),
                           faiss.swig_ptr(top), k)
        order = np.argsort(-scores, kind="stable")
        top, scores = top[order], scores[order]
        ok = top >= 0
        return self.row_ids[top[ok]], scores[ok].astype(np.float32)

    def set_search(self, ef_search: int | None = None, nprobe: int | None = None) -> None:
        """Change query-time effort without a rebuild (the bench sweeps these)."""
        if ef_search is not None:
            self.ef_search = ef_search
            if self.family in GRAPH_FAMILIES:
                self.index.hnsw.efSearch = ef_search
        if nprobe is not None:
            self.nprobe = nprobe
            if self.family in ("ivf_sq8", "ivf_pq"):
                self.index.nprobe = min(self.index.nlist, nprobe)

    def count(self) -> int:
        return len(self.row_of)

    def save(self, folder) -> None:
        """Write index + ids + filter columns to `folder` (a 1M-row graph takes minutes to build)."""
        from pathlib import Path

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if self.index is not None:
            faiss.write_index(self.index, str(folder / "index.faiss"))
        np.savez(folder / "rows.npz", row_ids=self.row_ids, alive=self.alive,
                 **{f"col_{k}": v for k, v in self.columns.items()})
        meta = {"dim": self.dim, "fields": self.fields, "family": self.family, "codes": self.codes,
                "options": {"family": self.family_setting, "flat_threshold": self.flat_threshold,
                            "hnsw_m": self.hnsw_m, "ef_construction": self.ef_construction,
                            "ef_search": self.ef_search, "nlist": self.nlist, "nprobe": self.nprobe,
                            "pq_m": self.pq_m, "compact_ratio": self.compact_ratio,
                            "exact_below": self.exact_below, "large_family": self.large_family,
                            "large_threshold": self.large_threshold}}
        (folder / "meta.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, folder) -> "FaissBackend":
        from pathlib import Path

        folder = Path(folder)
        meta = json.loads((folder / "meta.json").read_text())
        backend = cls(meta["dim"], meta["fields"], **meta["options"])
        rows = np.load(folder / "rows.npz")
        backend.row_ids, backend.alive = rows["row_ids"], rows["alive"]
        backend.columns = {k: rows[f"col_{k}"] for k in backend.fields}
        backend.codes = {k: dict(v) for k, v in meta["codes"].items()}
        live = np.flatnonzero(backend.alive)
        backend.row_of = dict(zip(backend.row_ids[live].tolist(), live.tolist()))
        if (folder / "index.faiss").exists():
            backend.index, backend.family = faiss.read_index(str(folder / "index.faiss")), meta["family"]
        return backend

    def memory_bytes(self) -> int:
        """Serialized index size: what the vectors + graph/codes cost in RAM."""
        return 0 if self.index is None else int(faiss.serialize_index(self.index).nbytes)


MILVUS_MAX_TOPK = 16_384  # Milvus' largest `limit` per search


class MilvusBackend(VectorBackend):
    """Milvus through pymilvus: `uri` is a local file (milvus-lite) or a cluster address
    such as `http://milvus:19530` (pass `token` for an authenticated cluster)."""

    def __init__(self, dim: int, fields: Mapping[str, str], uri: str, collection: str = "products",
                 token: str = "", index_type: str = "FLAT", index_params: Mapping | None = None,
                 search_params: Mapping | None = None, recreate: bool = False,
                 id_filter_max: int = 1024):
        super().__init__(dim, fields)
        self.id_filter_max = max(1, id_filter_max)  # search_rows: `id in [...]` up to this many ids
        from pymilvus import DataType, MilvusClient  # heavy: import on use

        self.client = MilvusClient(uri=uri, token=token) if token else MilvusClient(uri=uri)
        self.collection = collection
        self.search_params = dict(search_params or {})
        if recreate and self.client.has_collection(collection):
            self.client.drop_collection(collection)
        if not self.client.has_collection(collection):
            schema = MilvusClient.create_schema(auto_id=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            for name, kind in self.fields.items():
                if kind == "str":
                    schema.add_field(name, DataType.VARCHAR, max_length=512, nullable=True)
                else:
                    schema.add_field(name, DataType.DOUBLE, nullable=True)
            index = self.client.prepare_index_params()
            index.add_index("vector", index_type=index_type, metric_type="IP", params=dict(index_params or {}))
            self.client.create_collection(collection, schema=schema, index_params=index,
                                          consistency_level="Strong")

    def _rows(self, ids, vectors, fields) -> list[dict]:
        ids = _as_ids(ids)
        vectors = _as_vectors(vectors, self.dim)
        fields = list(fields) if fields is not None else [{} for _ in ids]
        if not (len(ids) == len(vectors) == len(fields)):
            raise ValueError("ids, vectors and fields must have the same length")
        rows = []
        for i, v, f in zip(ids.tolist(), vectors, fields):
            row = {"id": i, "vector": v.tolist()}
            for name, kind in self.fields.items():
                x = f.get(name)
                row[name] = None if x is None else (str(x) if kind == "str" else float(x))
            rows.append(row)
        return rows

    def add(self, ids, vectors, fields=None) -> None:
        rows = self._rows(ids, vectors, fields)
        if not rows:
            return
        ids_list = [r["id"] for r in rows]
        if len(set(ids_list)) != len(ids_list) or self.client.get(self.collection, ids=ids_list, output_fields=["id"]):
            raise ValueError("ids already present or repeated (use upsert)")
        for start in range(0, len(rows), 5000):
            self.client.insert(self.collection, rows[start:start + 5000])

    def upsert(self, ids, vectors, fields=None) -> None:
        rows = self._rows(ids, vectors, fields)
        for start in range(0, len(rows), 5000):
            self.client.upsert(self.collection, rows[start:start + 5000])

    def delete(self, ids) -> None:
        ids = _as_ids(ids).tolist()
        if ids:
            self.client.delete(self.collection, ids=ids)

    def expression(self, filter: Mapping | None) -> str:
        """The filter as a Milvus boolean expression (strings JSON-quoted)."""
        self._check_filter(filter)
        parts = []
        for name, allowed in (filter or {}).items():
            if _is_range(allowed):
                part = [f"{name} IS NOT NULL"]
                if allowed.get("min") is not None:
                    part.append(f"{name} >= {float(allowed['min'])!r}")
                if allowed.get("max") is not None:
                    part.append(f"{name} <= {float(allowed['max'])!r}")
                parts.append("(" + " and ".join(part) + ")")
            elif self.fields[name] == "str":
                parts.append(f"{name} in {json.dumps([str(v) for v in _allowed_values(allowed)])}")
            else:
                parts.append(f"{name} in {json.dumps([float(v) for v in _allowed_values(allowed)])}")
        return " and ".join(parts)

    def search(self, vector, k=10, filter=None):
        return self._search_expr(vector, k, self.expression(filter))

    def _search_expr(self, vector, k: int, expr: str):
        q = _as_vectors(vector, self.dim)[0].tolist()
        hits = self.client.search(self.collection, data=[q], limit=k, filter=expr,
                                  output_fields=["id"],
                                  search_params={"metric_type": "IP", "params": self.search_params})[0]
        ids = np.array([h["id"] for h in hits], dtype=np.int64)
        return ids, np.array([h["distance"] for h in hits], dtype=np.float32)

    def search_rows(self, vector, k=10, allowed_rows=None):
        """Few allowed ids: an `id in [...]` expression; many: search wider and drop the rest
        (cheaper than shipping a huge expression); past Milvus' top-k cap, id chunks merged."""
        if allowed_rows is None:
            return self.search(vector, min(k, MILVUS_MAX_TOPK))
        allowed = _as_ids(allowed_rows)
        k = min(k, len(allowed), MILVUS_MAX_TOPK)
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if len(allowed) > self.id_filter_max:
            ids, scores, complete = self._widened(vector, k, allowed, cap=MILVUS_MAX_TOPK)
            if complete:
                return ids, scores
        parts = [self._search_expr(vector, k, f"id in {json.dumps(chunk.tolist())}")
                 for chunk in np.array_split(allowed, -(-len(allowed) // self.id_filter_max))]
        ids = np.concatenate([p[0] for p in parts])
        scores = np.concatenate([p[1] for p in parts])
        top = np.argsort(-scores, kind="stable")[:k]
        return ids[top], scores[top]

    def count(self) -> int:
        res = self.client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(res[0]["count(*)"])

    def close(self) -> None:
        self.client.close()


def make_backend(kind: str, dim: int, fields: Mapping[str, str], **options) -> VectorBackend:
    """`faiss` (default, options go to FaissBackend) or `milvus` (needs `uri`)."""
    if kind == "faiss":
        return FaissBackend(dim, fields, **options)
    if kind == "milvus":
        return MilvusBackend(dim, fields, **options)
    raise ValueError(f"unknown vector backend {kind!r}: use faiss or milvus")


def faiss_options(settings) -> dict:
    """FaissBackend's options from the `vector_*` settings: the values docs/scaling.md measured."""
    return {"family": settings.vector_family, "flat_threshold": settings.vector_flat_threshold,
            "large_family": settings.vector_large_family, "large_threshold": settings.vector_large_threshold,
            "hnsw_m": settings.vector_hnsw_m, "ef_construction": settings.vector_ef_construction,
            "ef_search": settings.vector_ef_search, "nlist": settings.vector_nlist or None,
            "nprobe": settings.vector_nprobe, "exact_below": settings.vector_exact_below}


def backend_from_settings(settings, dim: int, fields: Mapping[str, str], collection: str = "products",
                          recreate: bool = False, kind: str | None = None) -> VectorBackend:
    """The one factory: the backend the settings name (`ASSISTANT_VECTOR_BACKEND`, or `kind`),
    tuned by the `vector_*` settings. The app's text and photo indexes and the scale bench all
    come from here, so what the bench measures is what a search runs."""
    kind = kind or settings.vector_backend
    if kind == "milvus":
        if not settings.milvus_uri:
            raise ValueError("vector_backend is milvus but ASSISTANT_MILVUS_URI is empty")
        return MilvusBackend(dim, fields, uri=settings.milvus_uri, token=settings.milvus_token,
                             collection=collection, recreate=recreate)
    return make_backend(kind, dim, fields, **faiss_options(settings))


def load_faiss(folder, settings) -> FaissBackend:
    """A saved FaissBackend; its query-time effort (efSearch, nprobe, exact-scan share) follows
    the settings now, the build-time choices (family, M, lists) stay as built."""
    backend = FaissBackend.load(folder)
    backend.exact_below = settings.vector_exact_below
    backend.set_search(ef_search=settings.vector_ef_search, nprobe=settings.vector_nprobe)
    return backend
