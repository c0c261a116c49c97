"""The default text-to-video pipeline: text encoder, (2+1)D denoiser, frame autoencoder.

Shapes (B = batch, F = frames):
  tokens   int64  [B, 12]           -> text encoder -> text_embeds [B, 128]
  latent   float  [B, 4, F, 8, 8]   (8x spatial compression, no temporal compression)
  timestep float  [B]               sigma * 1000 (flow matching, diffusers' convention)
  denoiser(latent, timestep, text_embeds) -> velocity [B, 4, F, 8, 8]
  decoder(latent) -> frames [B, 3, F, 64, 64] in [0, 1]
The decoder takes normalised latents (unit variance per channel); the
normalisation is folded into its weights at export.
"""
import math
import torch
from torch import nn
import torch.nn.functional as Fn

from data import VOCAB, MAX_TOKENS

LATENT_CH, TEXT_DIM = 4, 128


class TextEncoder(nn.Module):
    def __init__(self, width=32):
        super().__init__()
        self.embed = nn.Embedding(len(VOCAB), width)
        self.pos = nn.Parameter(torch.zeros(MAX_TOKENS, width))
        self.mlp = nn.Sequential(nn.Linear(MAX_TOKENS * width, 256), nn.SiLU(), nn.Linear(256, TEXT_DIM))

    def forward(self, tokens):
        h = self.embed(tokens) + self.pos  # [B, L, W]
        return self.mlp(h.flatten(1))


def timestep_embedding(t, dim=64):
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = t[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class Block(nn.Module):
    """Spatial 3x3 conv, temporal 3-tap conv, FiLM from the condition; residual."""

    def __init__(self, ch, cond):
        super().__init__()
        self.spatial = nn.Conv3d(ch, ch, (1, 3, 3), padding=(0, 1, 1))
        self.temporal = nn.Conv3d(ch, ch, (3, 1, 1), padding=(1, 0, 0))
        self.film = nn.Linear(cond, 2 * ch)

    def forward(self, x, c):
        scale, shift = self.film(c)[:, :, None, None, None].chunk(2, dim=1)
        h = Fn.silu(self.spatial(x))
        h = h * (1 + scale) + shift
        h = self.temporal(h)
        return x + Fn.silu(h)


def coordinates(frames, height, width):
    """[1, 3, F, H, W]: frame index (0 at the first frame, 1 per 7 frames), x and y in [-1, 1].

    A convolutional network is blind to where (and when) it is, but "moving
    right" means the shape is on the left in the first frame and on the
    right in the last one: these channels let the denoiser place it.
    """
    t = torch.arange(frames, dtype=torch.float32) / 7.0
    y = (torch.arange(height, dtype=torch.float32) + 0.5) / height * 2 - 1
    x = (torch.arange(width, dtype=torch.float32) + 0.5) / width * 2 - 1
    one = torch.ones(1, 1, frames, height, width)
    return torch.cat([one * t.view(1, 1, -1, 1, 1), one * y.view(1, 1, 1, -1, 1), one * x.view(1, 1, 1, 1, -1)], dim=1)


class Denoiser(nn.Module):
    def __init__(self, ch=64, blocks=6, cond=128, coords=False):
        super().__init__()
        self.inp = nn.Conv3d(LATENT_CH, ch, (1, 3, 3), padding=(0, 1, 1))
        # Optional (train.py --coords; the committed model has none): zero-initialised, so a
        # model extended on --resume starts as the trained one.
        self.coords = nn.Conv3d(3, ch, 1) if coords else None
        if self.coords is not None:
            nn.init.zeros_(self.coords.weight)
            nn.init.zeros_(self.coords.bias)
        self.t_mlp = nn.Sequential(nn.Linear(64, cond), nn.SiLU(), nn.Linear(cond, cond))
        self.c_mlp = nn.Sequential(nn.Linear(TEXT_DIM, cond), nn.SiLU(), nn.Linear(cond, cond))
        self.blocks = nn.ModuleList([Block(ch, cond) for _ in range(blocks)])
        self.out = nn.Conv3d(ch, LATENT_CH, (1, 3, 3), padding=(0, 1, 1))
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, latent, timestep, text_embeds):
        c = Fn.silu(self.t_mlp(timestep_embedding(timestep)) + self.c_mlp(text_embeds))
        h = self.inp(latent)
        if self.coords is not None:
            h = h + self.coords(coordinates(latent.shape[2], latent.shape[3], latent.shape[4]))
        for b in self.blocks:
            h = b(h, c)
        return self.out(h)


def conv(i, o):
    return nn.Conv3d(i, o, (1, 3, 3), padding=(0, 1, 1))


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv3d(3, 24, (1, 4, 4), stride=(1, 2, 2), padding=(0, 1, 1)), nn.SiLU(),
            nn.Conv3d(24, 48, (1, 4, 4), stride=(1, 2, 2), padding=(0, 1, 1)), nn.SiLU(),
            nn.Conv3d(48, 48, (1, 4, 4), stride=(1, 2, 2), padding=(0, 1, 1)), nn.SiLU(),
            conv(48, LATENT_CH))

    def forward(self, x):
        return self.net(x)


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        up = lambda: nn.Upsample(scale_factor=(1, 2, 2), mode="nearest")
        self.net = nn.Sequential(
            conv(LATENT_CH, 48), nn.SiLU(), conv(48, 48), nn.SiLU(),
            up(), conv(48, 48), nn.SiLU(),
            up(), conv(48, 32), nn.SiLU(),
            up(), conv(32, 16), nn.SiLU(),
            conv(16, 3))

    def forward(self, z):
        return torch.sigmoid(self.net(z))


class NormalisedDecoder(nn.Module):
    """The exported decoder: takes unit-variance latents, returns frames in [0, 1]."""

    def __init__(self, decoder, mean, std):
        super().__init__()
        self.decoder = decoder
        self.register_buffer("mean", mean.view(1, -1, 1, 1, 1))
        self.register_buffer("std", std.view(1, -1, 1, 1, 1))

    def forward(self, latent):
        return self.decoder(latent * self.std + self.mean)
