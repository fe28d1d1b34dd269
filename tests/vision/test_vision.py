"""Photo input checks (every kind of bad upload, generated here with PIL), foreground colour,
and the packaged image encoder."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from assistant.errors import ShopperError
from assistant.vision.images import (COLOUR_DIM, COLOUR_IS_HIST, HSV_DIM, HSV_STATS, LAB_COARSE, LAB_HIST_DIM,
                              _lab_bins, colour_features, foreground_mask, load_image, load_image_encoder,
                              to_lab)

RED, BLUE = (200, 20, 30), (20, 40, 200)


def _item(size=(120, 160), colour=RED, mode="RGB") -> Image.Image:
    """A coloured 'product' on a white studio background."""
    img = Image.new("RGB", size, (255, 255, 255))
    w, h = size
    img.paste(Image.new("RGB", (w // 2, h // 2), colour), (w // 4, h // 4))
    return img.convert(mode) if mode != "RGB" else img


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _jpeg() -> bytes:
    return _save(_item(), "JPEG", quality=90)


def _truncated() -> bytes:
    data = _save(_item((400, 400)), "JPEG", quality=95)
    return data[: len(data) // 2]


def _corrupt() -> bytes:
    data = bytearray(_save(_item(), "PNG"))
    data[60:200] = b"\x00" * 140  # smash the image data (and its CRC) after the header
    return bytes(data)


def _huge_jpeg() -> bytes:  # 50 megapixels; decoded at 1/8 scale thanks to draft mode
    return _save(Image.new("RGB", (8660, 5774), (250, 250, 250)), "JPEG", quality=50)


def _bomb_png() -> bytes:  # 144 megapixels that compress to a few KB
    return _save(Image.new("1", (12000, 12000), 0), "PNG")


def _cmyk() -> bytes:
    return _save(_item(mode="CMYK"), "JPEG")


def _palette_transparent() -> bytes:
    img = _item().convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    white_index = img.getpixel((0, 0))
    return _save(img, "PNG", transparency=white_index)


def _rgba() -> bytes:
    img = Image.new("RGBA", (100, 100), (0, 0, 0, 0))  # fully transparent black background
    img.paste(Image.new("RGBA", (50, 50), RED + (255,)), (25, 25))
    return _save(img, "PNG")


def _exif_rotated() -> bytes:
    img = _item((160, 80))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    return _save(img, "JPEG", exif=exif)


def _animated_gif() -> bytes:
    frames = [_item(colour=RED), _item(colour=BLUE)]
    return _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _webp() -> bytes:
    return _save(_item(), "WEBP")


def _grey16() -> bytes:
    arr = (np.linspace(0, 65535, 64 * 64).reshape(64, 64)).astype(np.uint16)
    return _save(Image.fromarray(arr), "PNG")


def _heic() -> bytes:  # the start of an iPhone photo: an ISO-BMFF 'ftyp' box with brand heic
    return b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200


# name, bytes factory, None for "handled" or a phrase the shopper's error message contains
CASES = [
    ("plain JPEG", _jpeg, None),
    ("zero-byte file", lambda: b"", "empty"),
    ("text file named .jpg", lambda: b"this is not a picture\n" * 10, "isn't a picture"),
    ("truncated JPEG", _truncated, "damaged or incomplete"),
    ("corrupt PNG", _corrupt, "damaged or incomplete"),
    ("huge 50-megapixel JPEG", _huge_jpeg, None),
    ("144-megapixel decompression bomb", _bomb_png, "too large"),
    ("CMYK JPEG", _cmyk, None),
    ("palette PNG with transparency", _palette_transparent, None),
    ("RGBA PNG", _rgba, None),
    ("EXIF-rotated JPEG", _exif_rotated, None),
    ("animated GIF", _animated_gif, None),
    ("WebP", _webp, None),
    ("16-bit greyscale PNG", _grey16, None),
    ("HEIC photo", _heic, "HEIC"),
    ("tiny 4x4 picture", lambda: _save(Image.new("RGB", (4, 4)), "PNG"), "only 4x4"),
]


@pytest.mark.parametrize("name, make, error", CASES, ids=[c[0] for c in CASES])
def test_bad_and_unusual_images(tmp_path: Path, name, make, error):
    path = tmp_path / "upload.jpg"  # shoppers' files often carry the wrong extension
    path.write_bytes(make())
    if error:
        with pytest.raises(ShopperError, match=error):
            load_image(path)
        return
    started = time.perf_counter()
    img = load_image(path)
    assert img.mode == "RGB" and max(img.size) <= 1024 and min(img.size) >= 16
    assert time.perf_counter() - started < 5


def test_upload_size_limit_is_checked_before_decoding(tmp_path):
    path = tmp_path / "big.jpg"
    path.write_bytes(_jpeg())
    with pytest.raises(ShopperError, match="under"):
        load_image(path, max_bytes=100)
    with pytest.raises(ShopperError, match="can't find"):
        load_image(tmp_path / "missing.jpg")


def test_huge_jpeg_is_decoded_at_reduced_size(tmp_path):
    """Draft mode decodes a 50 MP JPEG at 1/4 scale: ~3 MP (9 MB) in memory instead of 150 MB."""
    img = Image.open(io.BytesIO(_huge_jpeg()))
    img.draft("RGB", (1024, 1024))
    assert img.size[0] * img.size[1] < 4_000_000
    assert load_image(_huge_jpeg()).size == (1024, 683)


def test_pixels_come_out_right(tmp_path):
    """Orientation applied, first GIF frame kept, transparency becomes studio white."""
    assert load_image(_exif_rotated()).size == (80, 160)
    gif = np.asarray(load_image(_animated_gif()))
    assert gif[gif.shape[0] // 2, gif.shape[1] // 2].tolist() == pytest.approx(list(RED), abs=40)
    rgba = np.asarray(load_image(_rgba()))
    assert rgba[0, 0].tolist() == [255, 255, 255] and rgba[50, 50].tolist() == list(RED)
    pal = np.asarray(load_image(_palette_transparent()))
    assert pal[0, 0].tolist() == [255, 255, 255]
    cmyk = np.asarray(load_image(_cmyk()))
    assert cmyk[80, 60, 0] > cmyk[80, 60, 2]  # still red, not inverted


def test_pil_image_input_is_accepted():
    assert load_image(_item()).size == (120, 160)


def test_foreground_mask_ignores_the_white_background():
    rgb = np.asarray(_item((100, 100), colour=(10, 10, 10)))
    fg = foreground_mask(rgb)
    assert fg[50, 50] and not fg[2, 2]
    assert 0.2 < fg.mean() < 0.3  # the 50x50 item on a 100x100 frame


def test_colour_features_see_the_item_not_the_background():
    """A small black item on a large white frame reads as dark, a red one as red."""
    black = colour_features(_item((200, 200), colour=(15, 15, 15)))
    stats = black[HSV_STATS]
    white_frame_share = stats[:3].mean()  # mean RGB of the foreground
    assert white_frame_share < 0.15
    red = colour_features(_item((200, 200), colour=RED))[HSV_STATS]
    assert red[0] > 0.6 and red[2] < 0.3


def test_lab_conversion_matches_reference_values():
    """sRGB -> CIELAB (D65) against textbook values: white, black, pure red, pure blue."""
    lab = to_lab(np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0], [0, 0, 255]], dtype=np.uint8))
    assert lab[0] == pytest.approx([100, 0, 0], abs=0.5)
    assert lab[1] == pytest.approx([0, 0, 0], abs=0.5)
    assert lab[2] == pytest.approx([53.2, 80.1, 67.2], abs=0.6)
    assert lab[3] == pytest.approx([32.3, 79.2, -107.9], abs=0.6)


def test_colour_features_layout_and_regions():
    """Histograms sum to one each; the regional Lab histograms tell a red top from blue trousers."""
    img = Image.new("RGB", (120, 240), (255, 255, 255))
    img.paste(Image.new("RGB", (60, 80), RED), (30, 20))    # top third of the item: red
    img.paste(Image.new("RGB", (60, 120), BLUE), (30, 100))  # below: blue
    f = colour_features(img)
    assert f.shape == (COLOUR_DIM,) and COLOUR_IS_HIST.sum() == HSV_DIM + LAB_HIST_DIM
    assert f[:HSV_DIM].sum() == pytest.approx(1, abs=1e-4)
    lab_start = HSV_STATS.stop
    whole = f[lab_start: lab_start + LAB_HIST_DIM - 6 * LAB_COARSE ** 3]
    regions = f[lab_start + len(whole): lab_start + LAB_HIST_DIM].reshape(6, LAB_COARSE ** 3)
    assert whole.sum() == pytest.approx(1, abs=1e-4)
    assert regions.sum(1) == pytest.approx(np.ones(6), abs=1e-4)
    expected = _lab_bins(to_lab(np.array([RED, BLUE], dtype=np.uint8)), LAB_COARSE, LAB_COARSE)
    top, bottom = int(np.argmax(regions[1])), int(np.argmax(regions[5]))  # top / bottom centre
    assert [top, bottom] == expected.tolist()


def test_encoder_gives_normalised_stable_vectors():
    enc = load_image_encoder()
    a, b = _item(colour=RED), _item(colour=BLUE)
    vecs = enc.encode([a, a, b])
    assert vecs.shape == (3, enc.dim) and enc.dim == 1280
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-4)
    assert np.allclose(vecs[0], vecs[1], atol=1e-5)
    assert load_image_encoder() is enc  # loaded once per process
