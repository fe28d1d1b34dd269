"""The app on either vector backend: the demo catalog built once with FAISS (default) and once
with Milvus (milvus-lite file) answers the same queries, filters included, with the same top 10."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assistant.config import settings_from_env
from assistant.core import Assistant
from assistant.retrieval.index import load_index
from assistant.retrieval.vectors.backends import FaissBackend, MilvusBackend

QUERIES = [
    "grey sofa under 800",
    "not leather",
    "leather jacket not black",
    "running shoes for women",
    "comfy chair for reading",
    "wireless headphones under 100",
    "gift for a coffee lover",
    "white sneakers",
    "rug for the living room over 100",
    "cheap phone case",
]


@pytest.fixture(scope="module")
def pair(tmp_path_factory, milvus_uri):
    """(faiss assistant, milvus assistant, milvus settings), each with its own demo index."""
    faiss_settings = settings_from_env(index_dir=tmp_path_factory.mktemp("faiss_idx"), vector_backend="faiss")
    milvus_settings = settings_from_env(index_dir=tmp_path_factory.mktemp("milvus_idx"),
                                        vector_backend="milvus", milvus_uri=milvus_uri)
    fa, mi = Assistant(faiss_settings, progress=False), Assistant(milvus_settings, progress=False)
    fa.engine("demo"), mi.engine("demo")
    return fa, mi, milvus_settings


def test_index_records_the_backend(pair):
    fa, mi, settings = pair
    f_index, m_index = fa.engine("demo").index, mi.engine("demo").index
    assert isinstance(f_index.backend, FaissBackend) and f_index.manifest["vector_backend"]["kind"] == "faiss"
    record = json.loads((settings.index_dir / "demo" / "manifest.json").read_text())["vector_backend"]
    assert record["kind"] == "milvus" and record["collection"] == "demo"
    assert record["count"] == len(m_index.products) == m_index.backend.count()
    # the local vectors stay (matcher and recommender read them); only FAISS's own files are not written
    assert len(m_index.vectors) == len(m_index.products)
    assert sorted(p.name for p in (settings.index_dir / "demo").iterdir()) == \
        sorted(p.name for p in (fa.settings.index_dir / "demo").iterdir() if p.name != "dense")


@pytest.mark.parametrize("query", QUERIES)
def test_same_top10_on_both_backends(pair, query):
    fa, mi, _ = pair
    f = fa.search(query, catalog="demo", k=10, mode="smart")
    m = mi.search(query, catalog="demo", k=10, mode="smart")
    assert f.results, query
    assert [r.product.id for r in f.results] == [r.product.id for r in m.results]
    for a, b in zip(f.results, m.results):
        assert a.dense_rank == b.dense_rank
        assert (a.dense_score is None) == (b.dense_score is None)
        if a.dense_score is not None:
            assert abs(a.dense_score - b.dense_score) < 1e-4


def test_similar_on_both_backends(pair):
    fa, mi, _ = pair
    fe, me = fa.engine("demo"), mi.engine("demo")
    for product in fe.products[:5]:
        f, m = fe.similar(product.id, k=10), me.similar(product.id, k=10)
        assert [r.product.id for r in f.results] == [r.product.id for r in m.results]


def test_search_rows_paths_agree(pair, monkeypatch):
    """Milvus' three row-set paths (id expression, widened search, chunked ids past the top-k
    cap) and the app's FaissBackend return what an exact search of the allowed rows returns."""
    import faiss

    fa, mi, _ = pair
    f_index, backend = fa.engine("demo").index, mi.engine("demo").index.backend
    vectors = np.asarray(f_index.vectors, dtype=np.float32)
    n = len(vectors)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)

    def reference(q, k, allowed):
        params = None if allowed is None else faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
        scores, ids = exact.search(q.reshape(1, -1), min(k, n if allowed is None else len(allowed)), params=params)
        return ids[0][ids[0] >= 0], scores[0][ids[0] >= 0]
    rng = np.random.default_rng(0)
    queries = vectors[rng.choice(n, 5, replace=False)]
    cases = []
    for share in (0.02, 0.3, 0.9):
        for q in queries:
            cases.append((q, np.sort(rng.choice(n, max(1, int(share * n)), replace=False))))
    cases.append((queries[0], None))

    def check():
        for q, allowed in cases:
            want_ids, want_scores = reference(q, 10, allowed)
            for b in (backend, f_index.backend):
                ids, scores = b.search_rows(q, 10, allowed)
                assert ids.tolist() == want_ids.tolist()
                assert np.allclose(scores, want_scores, atol=1e-4)

    check()  # demo sets are small: id expressions
    monkeypatch.setattr(backend, "id_filter_max", 3)
    check()  # widened searches
    monkeypatch.setattr("assistant.retrieval.vectors.backends.MILVUS_MAX_TOPK", 12)
    check()  # widening capped: chunked id expressions, merged


def test_reload_reuses_or_reuploads_the_collection(pair):
    _, mi, settings = pair
    index = load_index("demo", settings)
    assert isinstance(index.backend, MilvusBackend) and index.backend.count() == len(index.products)
    index.backend.client.drop_collection(index.backend.collection)
    again = load_index("demo", settings)  # collection gone: uploaded again from vectors.npy
    assert again.backend.count() == len(again.products)
    q = mi.engine("demo").query_vector("grey sofa")
    assert again.backend.search_rows(q, 5)[0].tolist() == \
        mi.engine("demo").index.backend.search_rows(q, 5)[0].tolist()
