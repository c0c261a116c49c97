"""Which caption words the trained denoiser uses: its flow-matching loss on
fresh clips with the true caption, with one attribute swapped (direction,
shape), and with the empty prompt, at a few noise levels. A word the model
ignores gives the same loss swapped as true: how the direction was found
ignored after 4 062 steps (see README.md).

  python3 probe.py --ckpt ckpt [--clips 64]
"""
import argparse, os
import torch
import torch.nn.functional as Fn

import data
from model import Encoder, Denoiser, TextEncoder

p = argparse.ArgumentParser()
p.add_argument("--ckpt", default="ckpt")
p.add_argument("--clips", type=int, default=64)
args = p.parse_args()
torch.set_num_threads(1)
ae = torch.load(os.path.join(args.ckpt, "ae.pt"))
stats = torch.load(os.path.join(args.ckpt, "latent_stats.pt"))
ck = torch.load(os.path.join(args.ckpt, "pipeline.pt"))
enc, te, den = Encoder(), TextEncoder(), Denoiser(coords="coords.weight" in ck["den"])
enc.load_state_dict(ae["enc"]); te.load_state_dict(ck["te"]); den.load_state_dict(ck["den"])
g = torch.Generator().manual_seed(7)
mean, std = stats["mean"].view(1, -1, 1, 1, 1), stats["std"].view(1, -1, 1, 1, 1)


def tokens(fg, sh, di, bg):
    return torch.tensor([data.tokenize(data.caption(data.COLOURS[a], data.SHAPES[b], data.DIRECTIONS[c], data.COLOURS[e]))
                         for a, b, c, e in zip(fg.tolist(), sh.tolist(), di.tolist(), bg.tolist())])


with torch.no_grad():
    n = args.clips
    fg, sh, di, bg = data.random_labels(n, g)
    x0 = (enc(data.render(fg, sh, di, bg, g)) - mean) / std
    variants = {
        "true": tokens(fg, sh, di, bg),
        "direction swapped": tokens(fg, sh, (di + 1 + torch.randint(0, 3, (n,), generator=g)) % 4, bg),
        "shape swapped": tokens(fg, (sh + 1 + torch.randint(0, 2, (n,), generator=g)) % 3, di, bg),
        "empty prompt": torch.tensor([data.tokenize("")] * n),
    }
    print(f"denoiser step {ck['step']}, {n} clips: flow-matching loss by caption")
    for sigma in (0.9, 0.7, 0.5, 0.3):
        noise = torch.randn(x0.shape, generator=g)
        xt = (1 - sigma) * x0 + sigma * noise
        t = torch.full((n,), sigma * 1000.0)
        row = {k: Fn.mse_loss(den(xt, t, te(v)), noise - x0).item() for k, v in variants.items()}
        print(f"  sigma {sigma}: " + ", ".join(f"{k} {v:.4f}" for k, v in row.items()))
