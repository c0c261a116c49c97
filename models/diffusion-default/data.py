"""Procedural captioned clips: a coloured shape moving across a plain background.

Every clip is 8 frames of 64x64 RGB in [0, 1] (one second at 8 fps), captioned
"a {colour} {shape} moving {direction} on a {background} background".
The same palette, shapes and motion are what `classify.py` recognises, so the
prompt accuracy of a generated clip can be measured without a learned judge.
"""
import torch

PALETTE = {
    "red": (0.9, 0.1, 0.1),
    "green": (0.1, 0.8, 0.2),
    "blue": (0.15, 0.25, 0.95),
    "yellow": (0.95, 0.9, 0.1),
    "white": (0.95, 0.95, 0.95),
    "black": (0.05, 0.05, 0.05),
}
COLOURS = list(PALETTE)
SHAPES = ["circle", "square", "triangle"]
DIRECTIONS = ["left", "right", "up", "down"]
FRAMES, SIZE = 8, 64
STEP_PX = 3.5  # pixels a shape moves per frame
RADIUS = (11.0, 14.0)  # at 8x compression a shape spans 3-4 latent pixels, enough to tell it

VOCAB = ["<pad>", "<unk>", "a", "moving", "on", "background"] + COLOURS + SHAPES + DIRECTIONS
MAX_TOKENS = 12
# Every caption has 9 words, so positions 9-11 were only ever padding: a word there meets an untrained
# embedding that drives the denoiser to infinity. The tokenizer reads at most this many words.
MAX_WORDS = 9


def caption(fg, shape, direction, bg):
    return f"a {fg} {shape} moving {direction} on a {bg} background"


def tokenize(text):
    """Lower-case words (runs of a-z) looked up in VOCAB, unknown -> <unk>, the first MAX_WORDS, padded with <pad> to MAX_TOKENS."""
    import re
    words = re.findall(r"[a-z]+", text.lower())[:MAX_WORDS]
    ids = [VOCAB.index(w) if w in VOCAB else 1 for w in words]
    return ids + [0] * (MAX_TOKENS - len(ids))


def random_labels(n, gen):
    fg = torch.randint(0, len(COLOURS), (n,), generator=gen)
    bg = (fg + torch.randint(1, len(COLOURS), (n,), generator=gen)) % len(COLOURS)
    shape = torch.randint(0, len(SHAPES), (n,), generator=gen)
    direction = torch.randint(0, len(DIRECTIONS), (n,), generator=gen)
    return fg, shape, direction, bg


def render(fg, shape, direction, bg, gen):
    """Clips [n, 3, FRAMES, SIZE, SIZE] for label tensors of length n."""
    n = fg.shape[0]
    pal = torch.tensor([PALETTE[c] for c in COLOURS])
    r = RADIUS[0] + (RADIUS[1] - RADIUS[0]) * torch.rand(n, generator=gen)
    travel = STEP_PX * (FRAMES - 1)
    # Start so the whole path stays inside the frame; the cross axis is free.
    lo, hi = r + 1, SIZE - 1 - r
    along = lo + (hi - lo - travel).clamp(min=0) * torch.rand(n, generator=gen)
    cross = lo + (hi - lo) * torch.rand(n, generator=gen)
    dx = torch.tensor([-1.0, 1.0, 0.0, 0.0])[direction]
    dy = torch.tensor([0.0, 0.0, -1.0, 1.0])[direction]
    # Moving left/up starts at the far end of the axis.
    start_along = torch.where((dx + dy) < 0, along + travel, along)
    cx0 = torch.where(dx != 0, start_along, cross)
    cy0 = torch.where(dy != 0, start_along, cross)
    t = torch.arange(FRAMES, dtype=torch.float32)
    cx = cx0[:, None] + dx[:, None] * STEP_PX * t  # [n, F]
    cy = cy0[:, None] + dy[:, None] * STEP_PX * t
    coords = torch.arange(SIZE, dtype=torch.float32) + 0.5
    X = coords[None, None, None, :] - cx[:, :, None, None]
    Y = coords[None, None, :, None] - cy[:, :, None, None]
    R = r[:, None, None, None]
    circle = X * X + Y * Y < R * R
    square = torch.maximum(X.abs(), Y.abs()) < R * 0.85
    # Upward triangle: apex at -R, base at +0.8R.
    tri = (Y > -R) & (Y < 0.8 * R) & (X.abs() < (Y + R) * 0.58)
    s = shape[:, None, None, None]
    mask = torch.where(s == 0, circle, torch.where(s == 1, square, tri)).float()  # [n, F, H, W]
    fgc = pal[fg][:, :, None, None, None]
    bgc = pal[bg][:, :, None, None, None]
    m = mask[:, None]
    return m * fgc + (1 - m) * bgc


def batch(n, gen):
    fg, shape, direction, bg = random_labels(n, gen)
    clips = render(fg, shape, direction, bg, gen)
    tokens = torch.tensor([tokenize(caption(COLOURS[a], SHAPES[b], DIRECTIONS[c], COLOURS[d]))
                           for a, b, c, d in zip(fg.tolist(), shape.tolist(), direction.tolist(), bg.tolist())])
    return clips, tokens, (fg, shape, direction, bg)
