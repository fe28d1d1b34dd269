"""Vector backends: FAISS and Milvus (milvus-lite) agree on the demo catalog's vectors, filter
the same way, and take add / change / delete without a rebuild."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.retrieval.vectors.backends import FaissBackend, MilvusBackend, make_backend

FIELDS = {"category": "str", "colour": "str", "price": "float"}
FILTERS = [
    {"category": ["Sofas"]},
    {"colour": "black"},
    {"price": {"max": 100}},
    {"price": {"min": 50, "max": 300}},
    {"category": ["Sneakers", "Running Shoes"], "price": {"min": 60}},
    {"colour": ["white", "grey"], "category": ["Sofas", "Coffee Tables", "Area Rugs"]},
    {"category": ["no such category"]},
]


@pytest.fixture(scope="module")
def data(demo):
    vectors = np.asarray(demo.index.vectors, dtype=np.float32)
    ids = np.arange(1000, 1000 + len(vectors), dtype=np.int64)  # ids unrelated to row numbers
    fields = []
    for row, p in enumerate(demo.products):
        fields.append({"category": p.category[-1] if p.category else None,
                       "colour": p.colors[0] if p.colors else None,
                       # every 17th product has no price: it must never pass a price filter
                       "price": None if row % 17 == 0 else p.price})
    rng = np.random.default_rng(0)
    q = vectors[rng.choice(len(vectors), 25, replace=False)] + rng.normal(0, 0.05, (25, vectors.shape[1]))
    q = (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)
    return ids, vectors, fields, q


def build(kind: str, data, milvus_uri: str | None = None, name: str = "products", **options):
    ids, vectors, fields, _ = data
    if kind == "milvus":
        backend = MilvusBackend(vectors.shape[1], FIELDS, uri=milvus_uri, collection=name, recreate=True)
    else:
        backend = FaissBackend(vectors.shape[1], FIELDS, family=kind, **options)
    backend.add(ids, vectors, fields)
    return backend


def expected(data, flt) -> set[int]:
    """Ids passing `flt`, computed directly from the rows."""
    ids, _, fields, _ = data
    out = set()
    for i, f in zip(ids.tolist(), fields):
        ok = True
        for name, allowed in flt.items():
            value = f[name]
            if isinstance(allowed, dict):
                ok &= value is not None and allowed.get("min", -np.inf) <= value <= allowed.get("max", np.inf)
            else:
                ok &= value in (allowed if isinstance(allowed, list) else [allowed])
        if ok:
            out.add(i)
    return out


def overlap(a: FaissBackend | MilvusBackend, b, queries, k=10, flt=None) -> list[float]:
    result = []
    for qi in queries:
        ia, _ = a.search(qi, k, flt)
        ib, _ = b.search(qi, k, flt)
        result.append(len(set(ia.tolist()) & set(ib.tolist())) / max(1, min(k, len(ia), len(ib))))
    return result


def test_top10_parity_faiss_families_and_milvus(data, milvus_uri):
    flat = build("flat", data)
    hnsw = build("hnsw", data)
    milvus = build("milvus", data, milvus_uri)
    q = data[3]
    assert flat.count() == hnsw.count() == milvus.count() == len(data[0])
    # both exact engines: same top-10 sets (ties aside), scores equal to float precision
    exact = overlap(flat, milvus, q)
    assert min(exact) >= 0.9 and np.mean(exact) >= 0.99, exact
    ids_f, s_f = flat.search(q[0], 10)
    ids_m, s_m = milvus.search(q[0], 10)
    assert np.allclose(np.sort(s_f), np.sort(s_m), atol=1e-4)
    # ANN on the same slice: the measured bound
    assert np.mean(overlap(flat, hnsw, q)) >= 0.95
    # compressed graph storage: float16 is exact in ranking here, 8-bit codes nearly so
    assert np.mean(overlap(flat, build("hnsw_fp16", data), q)) >= 0.95
    assert np.mean(overlap(flat, build("hnsw_sq8", data), q)) >= 0.9


def test_filters_behave_the_same(data, milvus_uri):
    flat = build("flat", data)
    hnsw = build("hnsw", data)
    exact_path = build("hnsw", data, exact_below=1.01)  # selective-filter path: exact scan of passing rows
    # the same path over stored float16 / 8-bit codes, and the compressed graphs' selector path
    exact_codes = [build(f, data, exact_below=1.01) for f in ("hnsw_fp16", "hnsw_sq8")]
    ann_codes = [build(f, data, exact_below=0.0) for f in ("hnsw_fp16", "hnsw_sq8")]
    milvus = build("milvus", data, milvus_uri, name="filters")
    q = data[3][0]
    for flt in FILTERS:
        want = expected(data, flt)
        for backend in (flat, hnsw, exact_path, *exact_codes, *ann_codes, milvus):
            got, scores = backend.search(q, 500, flt)
            assert set(got.tolist()) == want, (type(backend).__name__, flt)
            assert np.all(np.diff(scores) <= 1e-5)  # best first
        top_f, _ = flat.search(q, 5, flt)
        top_m, _ = milvus.search(q, 5, flt)
        assert set(top_f.tolist()) == set(top_m.tolist()), flt
    with pytest.raises(ValueError, match="unknown filter field"):
        flat.search(q, 5, {"size": ["M"]})
    with pytest.raises(ValueError, match="unknown filter field"):
        milvus.search(q, 5, {"size": ["M"]})


@pytest.mark.parametrize("kind", ["flat", "hnsw", "hnsw_fp16", "hnsw_sq8", "ivf_sq8", "milvus"])
def test_incremental_add_change_delete(kind, data, milvus_uri):
    ids, vectors, fields, _ = data
    backend = build(kind, data, milvus_uri, name=f"incr_{kind}", **({"nlist": 4} if kind == "ivf_sq8" else {}))
    n = backend.count()
    # in-distribution vectors (blends of real products): SQ8/PQ codes are trained on the catalog
    new = vectors[3] + vectors[200] + vectors[77]
    new /= np.linalg.norm(new)
    moved = vectors[20] + vectors[150] + vectors[90]
    moved /= np.linalg.norm(moved)

    # add: a new product is found at once, with its fields
    backend.add([1], new[None], [{"category": "Lamps", "colour": "zz-gold", "price": 42.0}])
    assert backend.count() == n + 1
    got, scores = backend.search(new, 3)
    assert got[0] == 1 and scores[0] == pytest.approx(1.0, abs=0.02)
    assert backend.search(new, 3, {"colour": "zz-gold"})[0].tolist() == [1]
    with pytest.raises(ValueError):
        backend.add([1], new[None], [{}])

    # change: an existing product moves to a new vector and new fields, same id
    target = int(ids[5])
    backend.upsert([target], moved[None], [{"category": "Lamps", "colour": "zz-silver", "price": 10.0}])
    assert backend.count() == n + 1
    got, _ = backend.search(moved, 1)
    assert got.tolist() == [target]
    assert backend.search(moved, 5, {"colour": "zz-silver"})[0].tolist() == [target]
    assert target not in backend.search(vectors[5], 10, {"category": [fields[5]["category"]]})[0].tolist()

    # delete: gone from plain and filtered search
    backend.delete([1, target, 999_999])
    assert backend.count() == n - 1
    assert 1 not in backend.search(new, 10)[0].tolist()
    assert backend.search(new, 5, {"colour": ["zz-gold", "zz-silver"]})[0].tolist() == []
    if isinstance(backend, FaissBackend):  # compaction re-encodes live rows, same answers
        before = backend.search(vectors[7], 5, {"price": {"min": 20}})[0].tolist()
        backend.compact()
        assert backend.count() == n - 1 == len(backend.row_ids)
        assert backend.search(vectors[7], 5, {"price": {"min": 20}})[0].tolist()[:3] == before[:3]


def test_faiss_compacts_after_many_deletes_and_picks_family_by_size(data):
    ids, vectors, fields, q = data
    backend = build("auto", data)
    assert backend.family == "flat"  # 211 products: exact search
    backend.delete(ids[:100])
    assert backend.count() == len(ids) - 100
    assert len(backend.row_ids) == backend.count()  # tombstones were compacted away
    got, _ = backend.search(vectors[150], 1)
    assert got.tolist() == [int(ids[150])]
    assert FaissBackend(8, {}, flat_threshold=100)._pick_family(1000) == "hnsw"
    sized = FaissBackend(8, {}, flat_threshold=100, large_threshold=5000, large_family="hnsw_sq8")
    assert [sized._pick_family(n) for n in (10, 1000, 5000)] == ["flat", "hnsw", "hnsw_sq8"]
    with pytest.raises(ValueError):
        FaissBackend(8, {}, large_family="annoy")
    with pytest.raises(ValueError):
        make_backend("annoy", 8, {})


def test_backend_from_settings(settings, tmp_path):
    from assistant.config import settings_from_env
    from assistant.retrieval.vectors.backends import backend_from_settings

    assert isinstance(backend_from_settings(settings, 8, FIELDS), FaissBackend)
    hnsw = settings_from_env({"ASSISTANT_VECTOR_FAMILY": "hnsw"})
    assert backend_from_settings(hnsw, 8, FIELDS).family_setting == "hnsw"
    tuned = backend_from_settings(settings_from_env({
        "ASSISTANT_VECTOR_EF_SEARCH": "256", "ASSISTANT_VECTOR_NPROBE": "64", "ASSISTANT_VECTOR_NLIST": "100",
        "ASSISTANT_VECTOR_HNSW_M": "16", "ASSISTANT_VECTOR_EXACT_BELOW": "0.05",
        "ASSISTANT_VECTOR_LARGE_FAMILY": "ivf_sq8", "ASSISTANT_VECTOR_LARGE_THRESHOLD": "1000"}), 8, FIELDS)
    assert (tuned.ef_search, tuned.nprobe, tuned.nlist, tuned.hnsw_m, tuned.exact_below) == (256, 64, 100, 16, 0.05)
    assert tuned._pick_family(60_000) == "ivf_sq8"
    with pytest.raises(ValueError, match="MILVUS_URI"):
        backend_from_settings(settings_from_env({"ASSISTANT_VECTOR_BACKEND": "milvus"}), 8, FIELDS)


def test_bench_scale_command_small(demo, settings, tmp_path, capsys):
    """`assistant bench scale` end to end on a tiny catalog seeded from the demo vectors."""
    import json

    from assistant.shells.cli.main import main

    out = tmp_path / "scale.json"
    rc = main(["bench", "scale", "--sizes", "3000", "--queries", "20", "--families", "flat,hnsw_sq8",
               "--sweep", "64", "--keyword", "--source", str(settings.index_dir / "demo"),
               "--cache", str(tmp_path / "cache"), "--json", str(out)])
    assert rc == 0
    report = json.loads(out.read_text())
    by_family = {r["family"]: r for r in report["results"]}
    assert set(by_family) == {"flat", "hnsw_sq8"}
    for mode in ("plain", "selective", "broad"):
        assert by_family["flat"]["settings"]["exact"][mode]["recall10"] == 1.0
        assert by_family["hnsw_sq8"]["settings"]["ef_search=64"][mode]["recall10"] >= 0.8
    assert 0 < report["keyword"][0]["p50_ms"] and report["keyword"][0]["n"] == 3000
    assert "hnsw_sq8" in capsys.readouterr().out  # the table
    with pytest.raises(SystemExit) as bad:
        main(["bench", "scale", "--sizes", "many"])
    assert bad.value.code == 2


@pytest.mark.parametrize("family", ["hnsw_sq8", "flat"])
def test_faiss_save_and_load_keep_answers_and_updates(family, data, tmp_path):
    ids, vectors, fields, q = data
    backend = build(family, data)
    backend.delete([int(ids[3])])
    backend.save(tmp_path / "idx")
    loaded = FaissBackend.load(tmp_path / "idx")
    assert loaded.family == family and loaded.count() == backend.count()
    for qi, flt in zip(q[:5], [None] + FILTERS[:4]):
        a, sa = backend.search(qi, 10, flt)
        b, sb = loaded.search(qi, 10, flt)
        assert a.tolist() == b.tolist() and np.allclose(sa, sb)
    loaded.upsert([int(ids[4])], vectors[9][None], [{"category": "Lamps", "colour": "zz-new", "price": 1.0}])
    assert loaded.search(vectors[9], 5, {"colour": "zz-new"})[0].tolist() == [int(ids[4])]


def test_search_rows_when_ids_are_row_positions(data):
    """The app's case (id i = row i) skips the per-id lookup: same answers as the lookup path,
    and once a row is deleted the lookup path is taken again and never returns it."""
    ids, vectors, fields, q = data
    rows = FaissBackend(vectors.shape[1], FIELDS)
    rows.add(np.arange(len(vectors)), vectors, fields)
    shifted = build("flat", data)  # ids 1000 + row
    rng = np.random.default_rng(1)
    for qi in q[:5]:
        for share in (0.01, 0.3, 1.0):
            allowed = np.sort(rng.choice(len(vectors), max(1, int(share * len(vectors))), replace=False))
            a, sa = rows.search_rows(qi, 10, allowed)
            b, sb = shifted.search_rows(qi, 10, allowed + 1000)
            assert a.tolist() == (b - 1000).tolist() and np.array_equal(sa, sb)
    gone = int(rows.search_rows(q[0], 1, np.arange(len(vectors)))[0][0])
    rows.delete([gone])
    assert gone not in rows.search_rows(q[0], len(vectors), np.arange(len(vectors)))[0].tolist()
