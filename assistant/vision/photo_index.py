"""The photo side of a catalog: image vectors in the vector layer (the text index's backend, ids =
product positions), colour histograms, attribute probes, and photo search over them.

Layout under `indexes/<catalog>/images/`: `vectors.npy` (L2-normalised image embeddings),
`colours.npy` (foreground HSV + CIELAB colour histograms), `rows.npy` (which product each row is),
`probe.npz` (linear attribute classifiers), `manifest.json` (model, catalog fingerprint, counts,
unreadable photos, held-out probe accuracy, SHA-256 of every artifact). A missing, stale (catalog
or model changed) or corrupt index is rebuilt; unchanged photos reuse their cached vectors. The
searchable copy is built from `vectors.npy` at load (FAISS) or kept in the Milvus collection
`<catalog>_photos`, recorded in the manifest like the text index's.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from assistant.config import Settings
from assistant.errors import CatalogError, ShopperError
from assistant.retrieval.facets import BY_NAME, FACETS, Filters, product_values
from assistant.retrieval.index import (CatalogIndex, IndexProblem, collection_name, dense_backend,
                                       index_folder, load_or_build, open_backend, sha256, swap_in)
from assistant.retrieval.policy import Candidates, Plan, Result, SearchResponse, split_constraints
from assistant.retrieval.search import SearchEngine
from assistant.retrieval.vectors.backends import VectorBackend
from assistant.language.understand import ParsedQuery, parse
from assistant.vision.images import (COLOUR_DIM, COLOUR_IS_HIST, COLOUR_VERSION, HSV_DIM, ImageEncoder,
                              colour_features, load_image, load_image_encoder)

log = logging.getLogger(__name__)
FORMAT_VERSION = 2  # 2: CIELAB colour features, per-head regularisation
ARTIFACTS = ("vectors.npy", "colours.npy", "rows.npy", "probe.npz")
ATTRIBUTES = tuple(f.name for f in FACETS if f.photo)  # facets a photo can tell
HELD_OUT_BUCKETS = 2  # product ids hashed into 10 buckets; buckets 0-1 (20%) are never trained on
COLOUR_WEIGHT = 4.0   # how much the colour histogram counts next to the embedding (features and ranking)
SAME_ITEM = 0.97     # cosine above which two photos show the same product
MIN_CONFIDENCE = {"category": 0.25, "color": 0.25, "gender": 0.5, "occasion": 0.6}
# inverse L2 strength per probe head, picked among 0.01/0.02/0.05 on a dev part of the TRAIN
# products (id buckets 2-3; held-out photos never used), see docs/photos.md
PROBE_C = {"category": 0.01, "color": 0.01, "gender": 0.01, "occasion": 0.05}
DEFAULT_C = 0.05


def held_out(product_id: str) -> bool:
    """The evaluation part of a split by product id (stable across runs and machines)."""
    return zlib.crc32(product_id.encode()) % 10 < HELD_OUT_BUCKETS


def attribute_value(product, attr: str) -> str:
    """The label a probe learns: leaf category, first colour, gender, occasion."""
    return next(iter(product_values(product, attr, leaf=True)), "")


# ---------------------------------------------------------------------- probes
@dataclass
class AttributeProbe:
    """Multinomial logistic regressions on [embedding, colour histogram], stored as arrays."""

    mean: np.ndarray
    scale: np.ndarray
    heads: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)

    @staticmethod
    def features(vectors: np.ndarray, colours: np.ndarray) -> np.ndarray:
        colours = np.asarray(colours, dtype=np.float32)
        # Hellinger on the histogram parts: small colour shares count; statistics stay as they are
        colours = np.where(COLOUR_IS_HIST, np.sqrt(np.clip(colours, 0, None)), colours)
        return np.hstack([vectors, colours]).astype(np.float32)

    @classmethod
    def train(cls, vectors: np.ndarray, colours: np.ndarray, labels: dict[str, list[str]],
              min_examples: int = 3) -> "AttributeProbe":
        from sklearn.linear_model import LogisticRegression

        x = cls.features(vectors, colours)
        mean, scale = x.mean(0), x.std(0) + 1e-6
        x = (x - mean) / scale
        probe = cls(mean, scale)
        for attr, ys in labels.items():
            ys = np.asarray(ys)
            values, counts = np.unique(ys, return_counts=True)
            keep = np.isin(ys, values[(counts >= min_examples) & (values != "")])
            if len(np.unique(ys[keep])) < 2:
                continue
            model = LogisticRegression(C=PROBE_C.get(attr, DEFAULT_C), max_iter=300, tol=1e-3)
            model.fit(x[keep], ys[keep])
            probe.heads[attr] = (model.coef_.astype(np.float32), model.intercept_.astype(np.float32),
                                 model.classes_.astype(str))
        return probe

    def predict_proba(self, vectors: np.ndarray, colours: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """attribute -> (classes, N x C probabilities)."""
        x = (self.features(vectors, colours) - self.mean) / self.scale
        out = {}
        for attr, (coef, intercept, classes) in self.heads.items():
            logits = x @ coef.T + intercept
            if coef.shape[0] == 1:  # binary: sklearn keeps one row
                logits = np.hstack([-logits, logits]) / 2
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            out[attr] = (classes, p / p.sum(axis=1, keepdims=True))
        return out

    def save(self, path: Path) -> None:
        arrays = {"mean": self.mean, "scale": self.scale}
        for attr, (coef, intercept, classes) in self.heads.items():
            arrays |= {f"{attr}.coef": coef, f"{attr}.intercept": intercept, f"{attr}.classes": classes}
        with path.open("wb") as fh:
            np.savez(fh, **arrays)

    @classmethod
    def load(cls, path: Path) -> "AttributeProbe":
        with np.load(path, allow_pickle=False) as data:
            probe = cls(data["mean"], data["scale"])
            for attr in ATTRIBUTES:
                if f"{attr}.coef" in data:
                    probe.heads[attr] = (data[f"{attr}.coef"], data[f"{attr}.intercept"],
                                         data[f"{attr}.classes"])
        return probe


# ---------------------------------------------------------------------- index
@dataclass
class PhotoIndex:
    """Photo vectors of one catalog, aligned with its products, plus the attribute probe."""

    catalog: str
    rows: np.ndarray          # product position of each photo row
    vectors: np.ndarray
    colours: np.ndarray
    backend: VectorBackend    # ids are product positions
    probe: AttributeProbe
    manifest: dict

    def row_of(self) -> dict[int, int]:
        return {int(p): i for i, p in enumerate(self.rows)}


def photo_dir(name: str, settings: Settings) -> Path:
    return index_folder(name, settings) / "images"


def has_photos(index: CatalogIndex) -> bool:
    return any(_local_image(p.image) for p in index.products)


def _local_image(path: str) -> bool:
    return bool(path) and "://" not in path


def _photo_key(path: str) -> str:
    """Identifies one photo file's content (path, size, CRC-32 of the bytes) for the vector cache.

    Content, not mtime: a re-copied data folder (new mtimes, same photos) keeps its cached vectors.
    """
    try:
        data = Path(path).read_bytes()
    except OSError:
        return ""
    return f"{path}|{len(data)}|{zlib.crc32(data):08x}"


def _expected(index: CatalogIndex, settings: Settings) -> dict:
    return {"format": FORMAT_VERSION, "catalog_fingerprint": index.manifest.get("fingerprint"),
            "product_count": len(index.products), "image_model": settings.image_model,
            "image_weights": settings.image_weights or "packaged", "colour_version": COLOUR_VERSION}


def _build_dir(name: str, settings: Settings) -> Path:
    return index_folder(name, settings) / ".images.building"


def build_photo_index(index: CatalogIndex, settings: Settings, progress: bool = True) -> PhotoIndex:
    """Embed every local product photo (reusing cached vectors), train the probes, write atomically."""
    started = time.time()
    name = index.name
    encoder = load_image_encoder(settings.image_model, settings.image_weights, settings.num_threads)
    cache = _read_cache(name, settings, encoder)
    rows, vectors, colours, keys, skipped = [], [], [], [], []
    todo: list[tuple[int, str, str]] = []
    recolour: list[tuple[int, str, str]] = []
    for pos, p in enumerate(index.products):
        if not _local_image(p.image):
            continue
        key = _photo_key(p.image)
        if key and key in cache and cache[key][1] is not None:
            vec, col = cache[key]
            rows.append(pos), vectors.append(vec), colours.append(col), keys.append(key)
        elif key and key in cache:  # same image model, older colour features: recompute colours only
            recolour.append((pos, p.image, key))
        else:
            todo.append((pos, p.image, key))
    for pos, path, key in tqdm(recolour, desc=f"colours of {name} photos", unit="photo",
                               disable=not progress or not recolour):
        try:
            img = load_image(path, max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels)
        except ShopperError as exc:
            skipped.append(f"{index.products[pos].id}: {exc}")
            continue
        rows.append(pos), vectors.append(cache[key][0]), colours.append(colour_features(img)), keys.append(key)
    batch = 32
    bar = tqdm(total=len(todo), desc=f"embedding {name} photos", unit="photo", disable=not progress)
    for i in range(0, len(todo), batch):
        chunk, images = [], []
        for pos, path, key in todo[i:i + batch]:
            try:
                images.append(load_image(path, max_bytes=settings.max_image_bytes,
                                         max_pixels=settings.max_image_pixels))
                chunk.append((pos, key))
            except ShopperError as exc:
                skipped.append(f"{index.products[pos].id}: {exc}")
        if images:
            vecs = encoder.encode(images)
            for (pos, key), vec, img in zip(chunk, vecs, images):
                rows.append(pos), vectors.append(vec), colours.append(colour_features(img)), keys.append(key)
        bar.update(len(todo[i:i + batch]))
    bar.close()
    if not rows:
        raise CatalogError(f"The '{name}' catalog has no readable product photos ({len(skipped)} listed, "
                           "none could be opened), so photo search isn't available there; describe the "
                           "item in words instead.")
    order = np.argsort(rows, kind="stable")
    rows_a = np.asarray(rows, dtype=np.int64)[order]
    vec_a = np.ascontiguousarray(np.vstack(vectors)[order], dtype=np.float32)
    col_a = np.ascontiguousarray(np.vstack(colours)[order], dtype=np.float32)
    keys = [keys[i] for i in order]

    train = np.array([not held_out(index.products[r].id) for r in rows_a])
    if train.sum() < 2:
        train[:] = True
    labels = {a: [attribute_value(index.products[r], a) for r in rows_a[train]] for a in ATTRIBUTES}
    if progress:
        print(f"training attribute probes on {int(train.sum())} photos", flush=True)
    probe = AttributeProbe.train(vec_a[train], col_a[train], labels)
    accuracy = _held_out_accuracy(index, rows_a, vec_a, col_a, ~train, probe)

    folder, tmp = photo_dir(name, settings), _build_dir(name, settings)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    np.save(tmp / "vectors.npy", vec_a)
    np.save(tmp / "colours.npy", col_a)
    np.save(tmp / "rows.npy", rows_a)
    probe.save(tmp / "probe.npz")
    (tmp / "keys.json").write_text(json.dumps(keys))
    manifest = _expected(index, settings) | {
        "catalog": name, "encoder": encoder.name, "dim": int(vec_a.shape[1]), "count": len(rows_a),
        "reused_vectors": len(rows) - len(todo), "recoloured": len(recolour), "skipped_photos": skipped[:1000],
        "skipped_count": len(skipped), "train_photos": int(train.sum()),
        "held_out_photos": int((~train).sum()), "held_out_accuracy": accuracy,
        "build_seconds": round(time.time() - started, 2),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "checksums": {f: sha256(tmp / f) for f in ARTIFACTS},
    }
    backend, manifest["vector_backend"] = dense_backend(name, settings, vec_a, index.products, rows_a,
                                                        photo_collection(name))
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
    swap_in(tmp, folder)
    return PhotoIndex(name, rows_a, vec_a, col_a, backend, probe, manifest)


def photo_collection(name: str) -> str:
    return collection_name(f"{name}_photos")


def _read_cache(name: str, settings: Settings, encoder: ImageEncoder) -> dict[str, tuple]:
    """Vectors of the previous build (same model) keyed by photo, so a rebuild re-embeds only changes.

    Colours are reused only when the colour features are the same version (else `None`: they are
    cheap to recompute, the embeddings are not).
    """
    folder = photo_dir(name, settings)
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        if manifest.get("encoder") != encoder.name:
            return {}
        if sha256(folder / "vectors.npy") != manifest["checksums"]["vectors.npy"]:
            return {}
        keys = json.loads((folder / "keys.json").read_text())
        vecs = np.load(folder / "vectors.npy", allow_pickle=False)
        cols = [None] * len(keys)
        if manifest.get("colour_version") == COLOUR_VERSION and \
                sha256(folder / "colours.npy") == manifest["checksums"]["colours.npy"]:
            loaded = np.load(folder / "colours.npy", allow_pickle=False)
            if loaded.shape == (len(keys), COLOUR_DIM):
                cols = list(loaded)
        return {k: (v, c) for k, v, c in zip(keys, vecs, cols) if k}
    except (OSError, ValueError, KeyError):
        return {}


def _held_out_accuracy(index, rows, vectors, colours, mask, probe) -> dict[str, float]:
    if not mask.any():
        return {}
    probs = probe.predict_proba(vectors[mask], colours[mask])
    out = {}
    for attr, (classes, p) in probs.items():
        truth = np.array([attribute_value(index.products[r], attr) for r in rows[mask]])
        known = truth != ""
        out[attr] = round(float((classes[p.argmax(1)][known] == truth[known]).mean()), 4)
    return out


def check_photo_index(index: CatalogIndex, settings: Settings) -> dict:
    """The manifest if the photo index is present, current and intact; else `IndexProblem`."""
    folder = photo_dir(index.name, settings)
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except FileNotFoundError as exc:
        raise IndexProblem(f"no photo index for catalog {index.name!r} yet") from exc
    except (OSError, ValueError) as exc:
        raise IndexProblem(f"photo index manifest for {index.name!r} is corrupt ({exc})") from exc
    for key, value in _expected(index, settings).items():
        if manifest.get(key) != value:
            raise IndexProblem(f"photo index for {index.name!r} is stale ({key} changed)")
    for fname, digest in manifest.get("checksums", {}).items():
        path = folder / fname
        if not path.exists() or sha256(path) != digest:
            raise IndexProblem(f"photo index file {fname} for {index.name!r} is missing or corrupt")
    return manifest


def load_photo_index(index: CatalogIndex, settings: Settings) -> PhotoIndex:
    manifest = check_photo_index(index, settings)
    folder = photo_dir(index.name, settings)
    try:
        rows = np.load(folder / "rows.npy", allow_pickle=False)
        vectors = np.load(folder / "vectors.npy", allow_pickle=False)
        colours = np.load(folder / "colours.npy", allow_pickle=False)
        probe = AttributeProbe.load(folder / "probe.npz")
    except Exception as exc:  # any parse failure means the files cannot be trusted
        raise IndexProblem(f"photo index for {index.name!r} could not be read ({exc})") from exc
    if not (len(rows) == len(vectors) == len(colours)) or (len(rows) and rows.max() >= len(index.products)) \
            or colours.shape[1] != COLOUR_DIM:
        raise IndexProblem(f"photo index for {index.name!r} is inconsistent")
    backend = open_backend(index.name, settings, None, folder / "manifest.json", vectors, index.products,
                           rows, photo_collection(index.name))
    return PhotoIndex(index.name, rows, vectors, colours, backend, probe, manifest)


def ensure_photo_index(index: CatalogIndex, settings: Settings, progress: bool = True,
                       notify=None) -> PhotoIndex:
    """Load the photo index, rebuilding it when missing, stale or corrupt."""
    return load_or_build(lambda: load_photo_index(index, settings),
                         lambda: build_photo_index(index, settings, progress=progress), notify)


# ---------------------------------------------------------------------- search
@dataclass
class PhotoQuery:
    """A photo reduced to what search needs; the pixels themselves are not kept."""

    vector: np.ndarray
    colours: np.ndarray
    recognised: dict[str, list[tuple[str, float]]]  # attribute -> [(value, probability)] best first

    def best(self, attr: str) -> tuple[str, float] | None:
        values = self.recognised.get(attr)
        return values[0] if values else None


class PhotoSearch:
    """Photo -> similar products of one catalog, with recognised attributes as soft preferences."""

    def __init__(self, engine: SearchEngine, photos: PhotoIndex, encoder: ImageEncoder) -> None:
        self.engine, self.photos, self.encoder = engine, photos, encoder
        self.products = engine.products
        self._row = photos.row_of()

    def understand(self, image: Image.Image) -> PhotoQuery:
        """Embed a (validated) photo and recognise its attributes."""
        vector = self.encoder.encode([image])[0]
        colours = colour_features(image)
        return self.understand_vectors(vector, colours)

    def understand_vectors(self, vector: np.ndarray, colours: np.ndarray) -> PhotoQuery:
        probs = self.photos.probe.predict_proba(vector[None], colours[None])
        recognised = {}
        for attr, (classes, p) in probs.items():
            top = np.argsort(-p[0])[:3]
            recognised[attr] = [(str(classes[i]), float(p[0][i])) for i in top]
        return PhotoQuery(vector.astype(np.float32), colours.astype(np.float32), recognised)

    def preferences(self, query: PhotoQuery, drop: set[str] | None = None) -> Filters:
        """Confident recognised attributes (minus the ones the shopper removed) as soft filters."""
        soft = Filters()
        for attr in ATTRIBUTES:
            best = query.best(attr)
            if best and best[1] >= MIN_CONFIDENCE[attr] and best[0] not in (drop or ()):
                setattr(soft, BY_NAME[attr].field, [best[0]])
        return soft

    def search(self, query: PhotoQuery, text: str | None = None, k: int = 10,
               filters: Filters | None = None, drop: set[str] | None = None,
               exclude_ids: set[str] | None = None, candidates: int = 200) -> SearchResponse:
        """Rank products by visual similarity, those matching the recognised (or typed) attributes first.

        `text` ("like this but in blue") is parsed with the catalog vocabulary; the colour,
        category, gender or occasion it names replaces the recognised one; its price bounds and
        negations are hard, like in text search. `filters` are hard (chips, CLI flags).
        The steps are the text search's (policy.py); only retrieval differs.
        """
        # understand: the words typed with the photo, and what the photo shows
        parsed = parse(text, self.engine.vocab) if text else ParsedQuery(original="")
        soft, typed = self._wishes(query, parsed, drop or set())
        # plan: the same hard filters as text search, the photo's attributes as preferences
        hard, _ = split_constraints(parsed, filters)
        plan = self.engine.policy.plan(hard, soft, typed, report_unmet=False)
        # retrieve: nearest photos in each pool
        found = self.retrieve(query, plan, k, exclude_ids, candidates)
        # order and answer: typed words, then the very item, then preferences, then looks
        policy = self.engine.policy
        response = policy.respond(parsed, plan, found, policy.order(found, plan), k, mode="photo",
                                  recognised=query.recognised)
        nearest = self._nearest(np.ascontiguousarray(query.vector.reshape(1, -1), dtype=np.float32),
                                policy.everything, 1)
        response.closest = max(nearest.values(), default=None)
        looks = looks_like(query, soft, typed)
        for r in response.results:
            r.why = explain_photo(r, looks)
        return response

    def _wishes(self, query: PhotoQuery, parsed: ParsedQuery, drop: set[str]) -> tuple[Filters, Filters]:
        """(preferences, typed): recognised attributes, replaced by any the shopper typed; chips the
        shopper removed stay removed."""
        soft = self.preferences(query, drop)
        typed = Filters()  # what the shopper typed outranks what was recognised
        for facet in FACETS:
            if getattr(parsed, facet.field):
                setattr(soft, facet.field, list(getattr(parsed, facet.field)))
                setattr(typed, facet.field, list(getattr(parsed, facet.field)))
        for attr in ATTRIBUTES:
            fname = BY_NAME[attr].field
            setattr(soft, fname, [v for v in getattr(soft, fname) if v not in drop])
            setattr(typed, fname, [v for v in getattr(typed, fname) if v not in drop])
        return soft, typed

    def retrieve(self, query: PhotoQuery, plan: Plan, k: int, exclude_ids: set[str] | None,
                 candidates: int) -> Candidates:
        """Nearest photos in each pool of the plan (until there are enough), nudged by colour."""
        skip = [i for i, p in enumerate(self.products) if p.id in exclude_ids] if exclude_ids else []
        q = np.ascontiguousarray(query.vector.reshape(1, -1), dtype=np.float32)
        sims: dict[int, float] = {}
        for pool in plan.pools:
            pool = self.engine.policy.everything.copy() if pool is None else pool.copy()
            if skip:
                pool[skip] = False
            sims.update(self._nearest(q, pool, max(candidates, k + len(skip))))
            if len(sims) >= max(candidates, k):
                break
        # colour histogram similarity nudges same-coloured items up among equally good shapes
        score = {d: s + COLOUR_WEIGHT * 0.05 * self._colour_sim(query, d) for d, s in sims.items()}
        same = {d for d, s in sims.items() if s >= SAME_ITEM}  # the very item photographed
        dense_rank = {d: r for r, d in enumerate(sorted(sims, key=lambda d: -sims[d]), 1)}
        return Candidates(score, first=same,
                          signals=lambda d: {"dense_rank": dense_rank[d], "dense_score": sims[d]})

    def _nearest(self, q: np.ndarray, mask: np.ndarray, limit: int) -> dict[int, float]:
        if not mask.any():
            return {}
        allowed = None if mask.all() else np.flatnonzero(mask).astype(np.int64)
        ids, scores = self.photos.backend.search_rows(q[0], limit, allowed)
        return {int(i): float(s) for i, s in zip(ids, scores)}

    def _colour_sim(self, query: PhotoQuery, product_pos: int) -> float:
        row = self._row.get(product_pos)
        if row is None:
            return 0.0
        a, b = query.colours, self.photos.colours[row]
        return float(np.minimum(a[:HSV_DIM], b[:HSV_DIM]).sum())  # HSV histogram intersection


def looks_like(query: PhotoQuery, soft: Filters, typed: Filters | None = None) -> str:
    """E.g. "Black Heels": what the photo itself was recognised as, among the preferences in
    force; values the shopper typed ("in black") are theirs, not the photo's, and are left out."""
    typed = typed or Filters()
    parts = [v for v in soft.colors[:1] if v not in typed.colors] + \
            [v for v in soft.categories[:1] if v not in typed.categories]
    return " ".join(parts)


def explain_photo(result: Result, looks: str) -> str:
    """Why a product is in a photo search, e.g. "Similar shape and colour to your photo; looks like: Black Heels"."""
    sim = result.dense_score or 0.0
    head = ("the very item in your photo" if sim >= SAME_ITEM else
            "similar shape and colour to your photo" if sim >= 0.6 else "somewhat similar to your photo")
    parts = [head]  # plain words; the score is in the API's signals
    if looks:
        parts.append(f"looks like: {looks}")
    if result.missed_attributes:
        parts.append("close alternative (not " + ", not ".join(result.missed_attributes[:3]) + ")")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


# ---------------------------------------------------------------------- chat
@dataclass
class PhotoTurn:
    """A shopper's current photo search in a chat: the query (not the file), the words typed
    with it, and the recognised attributes the shopper removed."""

    query: PhotoQuery
    text: str = ""
    drop: set[str] = field(default_factory=set)


def photo_chips(response: SearchResponse) -> list[str]:
    """Chips for a photo search: hard filters, then the attributes used as preferences."""
    return list(dict.fromkeys(response.filters.describe() + response.preferences.describe()))


def photo_message(response: SearchResponse) -> str:
    """The chat line after a photo search, saying what came from the photo and what from the
    words typed with it: "Your photo looks like Heels (Women, Casual). From your words: Black."
    (the words' values are never credited to the photo)."""
    scope = response.out_of_scope
    if scope is not None:
        return scope.message()
    soft, parsed = response.preferences, response.query
    said = {facet.field: [v for v in getattr(soft, facet.field) if v in getattr(parsed, facet.field, [])]
            for facet in FACETS}
    own = {f: [v for v in getattr(soft, f) if v not in said[f]] for f in said}
    looks = " ".join(own["colors"][:1] + own["categories"][:1])
    extra = own["genders"][:1] + own["occasions"][:1]
    if looks or extra:
        text = f"Your photo looks like {looks or 'something'}" + (f" ({', '.join(extra)})" if extra else "") + "."
    else:
        text = "I can't name what your photo shows confidently."
    words_said = [v for f in (facet.field for facet in FACETS) for v in said.get(f, [])]
    hard = response.filters.describe()
    if words_said or hard:
        text += " From your words: " + ", ".join(dict.fromkeys(words_said + hard)) + "."
    if not response.results:
        return text + " I found nothing similar in this catalog."
    n = len(response.results)
    return (text + f" Here {'is' if n == 1 else 'are'} {n} similar item{'' if n == 1 else 's'}, "
            f"closest {'match' if n == 1 else 'matches'} first. "
            "Untick a chip if I got something wrong, or type e.g. \"in blue\".")
