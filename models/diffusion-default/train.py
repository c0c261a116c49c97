"""Trains the default pipeline on procedural clips, then exports it (see README.md).

  nice -n 19 python3 train.py --out ckpt --end 20:55 [--ae-steps 500]
  nice -n 19 python3 train.py --out ckpt2 --resume ckpt --end 23:59 [--lr 1e-3] [--coords]

Phase 1 trains the frame autoencoder; phase 2 trains the denoiser with
flow matching on normalised latents until the wall-clock --end (UTC HH:MM),
with the learning rate decaying over the remaining time.

--resume DIR continues from DIR's checkpoint: the autoencoder and the latent
statistics the denoiser was trained against are reused as they are (they are
not re-measured, which would shift the denoiser's input), the exported (EMA)
weights become both the live and the EMA weights, the optimizer state is
restored when DIR has one, and the step count continues.
"""
import argparse, copy, datetime, math, os, time
import torch
import torch.nn.functional as Fn

import data
from model import Encoder, Decoder, Denoiser, TextEncoder

p = argparse.ArgumentParser()
p.add_argument("--out", default="ckpt")
p.add_argument("--end", required=True, help="UTC HH:MM at which to stop training the denoiser")
p.add_argument("--ae-steps", type=int, default=500)
p.add_argument("--batch", type=int, default=16)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--cfg-drop", type=float, default=0.1)
p.add_argument("--lr", type=float, default=2e-3, help="peak denoiser learning rate")
p.add_argument("--resume", help="checkpoint directory to continue from (see above)")
p.add_argument("--coords", action="store_true", help="give the denoiser frame/x/y coordinate channels (model.py)")
p.add_argument("--sigma-shift", type=float, default=1.0,
               help="shift the training sigmas towards noise, sigma' = s*sigma/(1+(s-1)*sigma) (SD3); export with the same --shift")
args = p.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)
gen = torch.Generator().manual_seed(1)
os.makedirs(args.out, exist_ok=True)
now = datetime.datetime.utcnow()
hh, mm = map(int, args.end.split(":"))
end = now.replace(hour=hh, minute=mm, second=0, microsecond=0)
if end <= now:
    end += datetime.timedelta(days=1)
end_ts = end.timestamp() - (now.timestamp() - time.time())


def log(msg):
    print(f"{datetime.datetime.utcnow():%H:%M:%S} {msg}", flush=True)


# Phase 1: autoencoder on single frames.
enc, dec = Encoder(), Decoder()
ae_path = os.path.join(args.resume or args.out, "ae.pt")
if os.path.exists(ae_path):
    st = torch.load(ae_path)
    enc.load_state_dict(st["enc"]); dec.load_state_dict(st["dec"])
    log("loaded autoencoder")
else:
    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=2e-3)
    t0 = time.time()
    for step in range(args.ae_steps):
        clips, _, _ = data.batch(4, gen)  # 4 clips = 32 frames
        z = enc(clips)
        rec = dec(z)
        loss = Fn.mse_loss(rec, clips) + 1e-4 * z.pow(2).mean()
        for g in opt.param_groups:
            g["lr"] = 2e-3 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / args.ae_steps)))
        opt.zero_grad(); loss.backward(); opt.step()
        if step % 25 == 0:
            log(f"ae step {step} loss {loss.item():.5f} ({(time.time() - t0) / (step + 1):.2f} s/step)")
    torch.save({"enc": enc.state_dict(), "dec": dec.state_dict()}, ae_path)
enc.eval(); dec.eval()
for prm in list(enc.parameters()) + list(dec.parameters()):
    prm.requires_grad_(False)
if args.resume:
    stats = torch.load(os.path.join(args.resume, "latent_stats.pt"))
    mean, std = stats["mean"], stats["std"]
    torch.save({"enc": enc.state_dict(), "dec": dec.state_dict()}, os.path.join(args.out, "ae.pt"))
else:
    with torch.no_grad():
        z = torch.cat([enc(data.batch(8, gen)[0]) for _ in range(8)])
        mean = z.mean(dim=(0, 2, 3, 4)); std = z.std(dim=(0, 2, 3, 4))
log(f"latent mean {mean.tolist()} std {std.tolist()}")
torch.save({"mean": mean, "std": std}, os.path.join(args.out, "latent_stats.pt"))

# Phase 2: text encoder + denoiser, flow matching.
te, den = TextEncoder(), Denoiser(coords=args.coords)
n_params = sum(p.numel() for p in list(te.parameters()) + list(den.parameters()))
log(f"denoiser+text params {n_params}")
params = list(te.parameters()) + list(den.parameters())
opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
step = 0
if args.resume:
    ck = torch.load(os.path.join(args.resume, "pipeline.pt"))
    te.load_state_dict(ck["te"])
    missing, unexpected = den.load_state_dict(ck["den"], strict=False)
    # Only modules new in this run (zero-initialised, e.g. --coords) may be missing from the checkpoint.
    if unexpected or any(not k.startswith("coords.") for k in missing):
        raise SystemExit(f"checkpoint does not fit the denoiser: missing {missing}, unexpected {unexpected} (--coords?)")
    if missing:
        log(f"new in the denoiser (zero-initialised): {missing}")
    step = ck["step"]
    gen.manual_seed(1 + step)  # fresh clips, not a replay of the first run's
    if "opt" in ck:
        opt.load_state_dict(ck["opt"])
    log(f"resumed from {args.resume} at denoiser step {step}{'' if 'opt' in ck else ' (no optimizer state: Adam restarts)'}")
ema_te, ema_den = copy.deepcopy(te), copy.deepcopy(den)
start = time.time()
total = end_ts - start
first = step


def save():
    torch.save({"te": ema_te.state_dict(), "den": ema_den.state_dict(), "step": step, "opt": opt.state_dict()},
               os.path.join(args.out, "pipeline.pt"))


null_tokens = torch.tensor([data.tokenize("")])
while time.time() < end_ts:
    frac = (time.time() - start) / total
    lr = args.lr * min(1.0, (step - first + 1) / 100) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
    for g in opt.param_groups:
        g["lr"] = lr
    clips, tokens, _ = data.batch(args.batch, gen)
    drop = torch.rand(args.batch, generator=gen) < args.cfg_drop
    tokens = torch.where(drop[:, None], null_tokens, tokens)
    with torch.no_grad():
        x0 = (enc(clips) - mean.view(1, -1, 1, 1, 1)) / std.view(1, -1, 1, 1, 1)
    noise = torch.randn(x0.shape, generator=gen)
    # Logit-normal sigmas (as SD3) weight the middle of the path, where the prompt decides the layout.
    sigma = torch.sigmoid(torch.randn(args.batch, generator=gen))
    # Shifted towards noise: the layout and the motion are decided near sigma = 1, where a clip is still a blur.
    sigma = args.sigma_shift * sigma / (1 + (args.sigma_shift - 1) * sigma)
    s = sigma.view(-1, 1, 1, 1, 1)
    xt = (1 - s) * x0 + s * noise
    v = den(xt, sigma * 1000, te(tokens))
    loss = Fn.mse_loss(v, noise - x0)
    opt.zero_grad(); loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    decay = min(0.998, (1 + step) / (10 + step))
    with torch.no_grad():
        for m, e in ((te, ema_te), (den, ema_den)):
            for a, b in zip(e.parameters(), m.parameters()):
                a.mul_(decay).add_(b, alpha=1 - decay)
    if step % 50 == 0:
        log(f"step {step} loss {loss.item():.4f} lr {lr:.2e} ({(time.time() - start) / (step - first + 1):.2f} s/step, {frac:.0%})")
    if step % 500 == 0:
        save()
    step += 1
save()
log(f"done after {step} denoiser steps")
