"""Experiment: does fine-tuning the top of the image model beat the linear probes?

The shipped photo recogniser is EfficientNet-Lite0 (frozen, ImageNet) + logistic regressions on
[pooled features, colour features]. This script trains the model's last blocks (from `--start`),
its head convolution and one linear head per attribute (type, colour, gender, occasion) on the
catalog's own labels, starting from the pretrained weights, and prints held-out accuracy per epoch
so the two can be compared on the same split (`photo_index.held_out`: product-id buckets 0-1 are
never trained on). The feature maps that enter block `--start` are computed once and cached under
`var/photo_finetune/` (11 min for 8,983 photos on 2 idle cores), so each run only pays for the
trained part: about 8 s an epoch for `--start 16` (head only), 50-60 s for 14, 115 s for 11.

Measured 2026-11-25 (docs/photos.md): head only 0.864 type / 0.705 colour; blocks 14-15 best epoch
0.874 / 0.706; blocks 11-15 best 0.868 / 0.699 (probes: 0.861 / 0.694). Not shipped.

    .venv/bin/python bench/photo_finetune.py --catalog fashion --start 14 --epochs 8 [--limit 600]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.config import get_settings  # noqa: E402
from assistant.retrieval.index import ensure_index  # noqa: E402
from assistant.vision.photo_index import ATTRIBUTES, AttributeProbe, attribute_value, held_out  # noqa: E402
from assistant.vision.images import ImageEncoder, colour_features, load_image, to_tensor_batch  # noqa: E402

WEIGHTS = {"category": 1.0, "color": 1.0, "gender": 0.3, "occasion": 0.3}  # type and colour are the targets


def cached_maps(paths: list[str], start: int, folder: Path, encoder: ImageEncoder) -> tuple[np.ndarray, np.ndarray]:
    """(feature maps entering block `start`, colour features) per photo, computed once (fp16 on disk)."""
    import torch

    maps_file, colours_file = folder / f"maps_before_{start}.npy", folder / "colours.npy"
    if maps_file.exists() and colours_file.exists():
        maps = np.load(maps_file, mmap_mode="r")
        if len(maps) == len(paths):
            return maps, np.load(colours_file)
    folder.mkdir(parents=True, exist_ok=True)
    model, maps, colours = encoder._model, None, []
    started = time.time()
    for s in range(0, len(paths), 32):
        images = [load_image(p) for p in paths[s:s + 32]]
        x = torch.from_numpy(to_tensor_batch(images))
        with torch.inference_mode():
            h = model._swish(model._bn0(model._conv_stem(x)))
            for block in model._blocks[:start]:
                h = block(h)
        if maps is None:
            maps = np.lib.format.open_memmap(maps_file, mode="w+", dtype=np.float16, shape=(len(paths), *h.shape[1:]))
        maps[s:s + len(images)] = h.numpy().astype(np.float16)
        colours.extend(colour_features(im) for im in images)
        print(f"\rfeature maps {s + len(images)}/{len(paths)} ({time.time() - started:.0f} s)", end="", flush=True)
    print()
    maps.flush()
    np.save(colours_file, np.vstack(colours))
    return np.load(maps_file, mmap_mode="r"), np.load(colours_file)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--catalog", default="fashion")
    ap.add_argument("--start", type=int, default=14, help="first trained block (0-16; 16 = head convolution only)")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-4, help="learning rate of the pretrained part (heads: 1e-3)")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N photos (a quick check)")
    args = ap.parse_args()
    if not 0 <= args.start <= 16 or args.epochs < 1:
        ap.error("--start must be 0-16 and --epochs at least 1")

    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    settings = get_settings()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    index = ensure_index(args.catalog, settings)
    products = [p for p in index.products if p.image and Path(p.image).is_file()]
    if args.limit:
        products = products[:args.limit]
    if len(products) < 20:
        ap.error(f"catalog {args.catalog!r} has too few local photos")
    encoder = ImageEncoder(settings.image_model, settings.image_weights, settings.num_threads)
    folder = settings.var_dir / "photo_finetune" / f"{args.catalog}-{len(products)}"
    maps, colours = cached_maps([p.image for p in products], args.start, folder, encoder)
    test = np.array([held_out(p.id) for p in products])
    train_rows, test_rows = np.where(~test)[0], np.where(test)[0]
    col = AttributeProbe.features(np.zeros((len(colours), 0), np.float32), colours)
    col = torch.from_numpy((col - col[train_rows].mean(0)) / (col[train_rows].std(0) + 1e-6))
    labels, classes = {}, {}
    for attr in ATTRIBUTES:
        values, codes = np.unique([attribute_value(p, attr) for p in products], return_inverse=True)
        labels[attr], classes[attr] = torch.from_numpy(codes), values

    model, first = encoder._model, args.start

    class Top(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = nn.ModuleList(model._blocks[first:])
            self.conv, self.bn, self.act = model._conv_head, model._bn1, model._swish
            self.drop = nn.Dropout(0.3)
            self.heads = nn.ModuleDict({a: nn.Linear(self.conv.out_channels + col.shape[1], len(classes[a]))
                                        for a in ATTRIBUTES})

        def forward(self, x, c):
            for j, block in enumerate(self.blocks):  # stochastic depth as the model was trained
                x = block(x, drop_connect_rate=0.2 * (first + j) / len(model._blocks) if self.training else None)
            z = self.drop(torch.cat([self.act(self.bn(self.conv(x))).mean(dim=(2, 3)), c], 1))
            return {a: head(z) for a, head in self.heads.items()}

    net = Top()
    pretrained = [p for n, p in net.named_parameters() if not n.startswith("heads")]
    batch = 64
    opt = torch.optim.AdamW([{"params": pretrained, "lr": args.lr}, {"params": net.heads.parameters(), "lr": 1e-3}],
                            weight_decay=0.05)
    steps = args.epochs * ((len(train_rows) + batch - 1) // batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[args.lr, 1e-3], total_steps=steps)

    def evaluate() -> dict[str, float]:
        net.eval()
        hits = {a: 0 for a in ATTRIBUTES}
        with torch.no_grad():
            for s in range(0, len(test_rows), 256):
                rows = test_rows[s:s + 256]
                x = torch.from_numpy(np.asarray(maps[rows], dtype=np.float32))
                plain, flipped = net(x, col[rows]), net(torch.flip(x, [3]), col[rows])
                for a in ATTRIBUTES:
                    guess = (plain[a].softmax(1) + flipped[a].softmax(1)).argmax(1)
                    hits[a] += int((guess == labels[a][rows]).sum())
        net.train()
        return {a: round(hits[a] / max(len(test_rows), 1), 4) for a in ATTRIBUTES}

    print(f"{len(train_rows)} training / {len(test_rows)} held-out photos; training blocks {first}-16 + heads")
    started = time.time()
    for epoch in range(args.epochs):
        order = rng.permutation(train_rows)
        for s in range(0, len(order), batch):
            rows = np.sort(order[s:s + batch])  # sorted: faster reads from the memory-mapped cache
            x = torch.from_numpy(np.asarray(maps[rows], dtype=np.float32))
            flip = torch.rand(len(rows)) < 0.5  # mirror half the maps: the only augmentation cached maps allow
            x = torch.where(flip[:, None, None, None], torch.flip(x, [3]), x)
            out = net(x, col[rows])
            loss = sum(WEIGHTS[a] * F.cross_entropy(out[a], labels[a][rows], label_smoothing=0.1) for a in ATTRIBUTES)
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
        print(f"epoch {epoch + 1}: {time.time() - started:.0f} s, loss {loss.item():.3f}, held-out accuracy {evaluate()}",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
