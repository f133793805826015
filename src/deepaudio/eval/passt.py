"""PaSST (Koutini et al., "Efficient Training of Audio Transformers with Patchout", Interspeech 2022), the
``passt-s-f128-p16-s10-ap.476-swa`` AudioSet tagger, for FD_PaSST and KL_PaSST as av-benchmark computes them.

Shape key: B clips, N = 320000 samples (10 s at 32 kHz), M = 128 mel bands, T = 1001 frames,
f x t = 12 x 99 patches, D width (768), K = 527 classes.

* audio (av-benchmark ``AudioDataset`` at 32 kHz): mono, mean removed, resampled, the first 8 s, then
  zero-padded to exactly 10 s;
* front end (hear21passt ``AugmentMelSTFT`` in eval mode): pre-emphasis y[n] = x[n+1] - 0.97 x[n], a
  1024-point STFT of a symmetric 800-sample Hann window, hop 320, centred (reflect), power, 128 Kaldi mel
  bands 0-15 kHz (triangles in the mel domain 1127 ln(1 + f / 700) over 512 bins, the Nyquist bin
  unweighted), log(x + 1e-5), then (x + 4.5) / 5;
* network: a DeiT-style ViT with 16x16 patches at stride 10, separate frequency and time position tables,
  CLS and distillation tokens (each with its own position vector), pre-norm blocks (LayerNorm eps 1e-6,
  GELU), a final LayerNorm; the embedding is the mean of the CLS and distillation outputs (768-d, FD) and
  the logits are ``head`` = LayerNorm + Linear of that embedding (527, KL), the ``mode="all"`` output of
  hear21passt's wrapper that av-benchmark splits into logits and features.

State-dict names follow the released file (timm ViT names plus ``freq_new_pos_embed``,
``time_new_pos_embed``, ``new_pos_embed``, ``head.0``/``head.1``, ``head_dist``); widths and depth come
from the weight shapes, the head count (12) and stride (10) from the released configuration.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from deepaudio.checkpoint import load_state_strict
from deepaudio.errors import CheckpointError

PASST_SR, PASST_SAMPLES, PASST_STRIDE, PASST_HEADS = 32000, 320000, 10, 12
N_FFT, HOP, WIN, N_MELS, F_MAX = 1024, 320, 800, 128, 15000.0


@lru_cache(maxsize=2)
def kaldi_mel_banks(n_mels: int = N_MELS, n_fft: int = N_FFT, sr: int = PASST_SR, f_min: float = 0.0,
                    f_max: float = F_MAX) -> torch.Tensor:
    """(M, n_fft // 2 + 1) Kaldi mel filters: triangles with corners equally spaced in mel, evaluated at the
    mel value of each of the first n_fft / 2 bins; the last (Nyquist) bin gets no weight (float32, as Kaldi)."""

    def mel(f):
        return 1127.0 * torch.log1p(torch.as_tensor(f, dtype=torch.float32) / 700.0)

    lo, hi = mel(f_min), mel(f_max)
    delta = (hi - lo) / (n_mels + 1)
    i = torch.arange(n_mels, dtype=torch.float32)[:, None]
    left, centre, right = lo + i * delta, lo + (i + 1) * delta, lo + (i + 2) * delta
    m = mel(sr / n_fft * torch.arange(n_fft // 2, dtype=torch.float32))[None]
    up, down = (m - left) / (centre - left), (right - m) / (right - centre)
    return F.pad(torch.clamp(torch.minimum(up, down), min=0.0), (0, 1))


def passt_logmel(wav: torch.Tensor) -> torch.Tensor:
    """(B, N) at 32 kHz -> (B, M, T) normalised log-mel, T = (N - 1) // 320 + 1."""
    x = wav[:, 1:] - 0.97 * wav[:, :-1]  # pre-emphasis (drops one sample, as the reference conv1d does)
    window = torch.hann_window(WIN, periodic=False, device=wav.device, dtype=wav.dtype)
    spec = torch.stft(x, N_FFT, HOP, WIN, window=window, center=True, pad_mode="reflect",
                      return_complex=True).abs().pow(2)  # (B, 513, T)
    mel = kaldi_mel_banks().to(wav.device, wav.dtype) @ spec
    return (torch.log(mel + 1e-5) + 4.5) / 5.0


class Block(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(dim, 3 * dim)
        self.attn.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(dim, hidden)
        self.mlp.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        qkv = self.attn.qkv(self.norm1(x)).chunk(3, -1)
        q, k, v = (z.unflatten(-1, (PASST_HEADS, -1)).transpose(1, 2) for z in qkv)  # (B, H, N, D / H)
        x = x + self.attn.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).flatten(2))
        return x + self.mlp.fc2(F.gelu(self.mlp.fc1(self.norm2(x))))


class PaSST(nn.Module):
    """``forward(wav (B, N) at 32 kHz) -> (embedding (B, D), logits (B, K))``."""

    def __init__(self, dim: int = 768, depth: int = 12, hidden: int = 3072, patch: int = 16, f_grid: int = 12,
                 t_grid: int = 99, classes: int = 527):
        super().__init__()
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(1, dim, patch, stride=PASST_STRIDE)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.dist_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.new_pos_embed = nn.Parameter(torch.zeros(1, 2, dim))
        self.freq_new_pos_embed = nn.Parameter(torch.zeros(1, dim, f_grid, 1))
        self.time_new_pos_embed = nn.Parameter(torch.zeros(1, dim, 1, t_grid))
        self.blocks = nn.Sequential(*[Block(dim, hidden) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, classes))
        self.head_dist = nn.Linear(dim, classes)  # held by the released file; unused at inference

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.patch_embed.proj(passt_logmel(wav).unsqueeze(1))  # (B, D, f, t)
        t = x.shape[-1]
        if t > self.time_new_pos_embed.shape[-1]:
            raise ValueError(f"PaSST takes at most {self.time_new_pos_embed.shape[-1]} time patches (10 s), got {t}")
        x = x + self.time_new_pos_embed[..., :t] + self.freq_new_pos_embed
        x = x.flatten(2).transpose(1, 2)  # (B, f*t, D)
        b = x.shape[0]
        aux = torch.cat([self.cls_token, self.dist_token], 1) + self.new_pos_embed
        x = self.norm(self.blocks(torch.cat([aux.expand(b, -1, -1), x], 1)))
        emb = (x[:, 0] + x[:, 1]) / 2
        return emb, self.head(emb)


def load_passt(path: str | Path, device: str | torch.device = "cpu") -> PaSST:
    """PaSST from the released ``passt-s-f128-p16-s10-ap.476-swa.pt`` (plain state dict; a hear21passt wrapper
    dict with ``net.`` names, or a ``model`` / ``state_dict`` wrapper, is unwrapped)."""
    from deepaudio.checkpoint import load_weights_file

    state = load_weights_file(path)
    for key in ("model", "state_dict"):
        if key in state and isinstance(state[key], dict):
            state = state[key]
    if any(k.startswith("net.") for k in state):
        state = {k[4:]: v for k, v in state.items() if k.startswith("net.")}
    need = ("patch_embed.proj.weight", "freq_new_pos_embed", "time_new_pos_embed", "blocks.0.mlp.fc1.weight",
            "head.1.weight")
    missing = [k for k in need if k not in state]
    if missing:
        raise CheckpointError(f"not a PaSST checkpoint (no {missing[0]})", path,
                              "give passt-s-f128-p16-s10-ap.476-swa.pt (kkoutini/PaSST release)")
    pe = state["patch_embed.proj.weight"]
    depth = len({int(m.group(1)) for k in state if (m := re.match(r"blocks\.(\d+)\.", k))})
    net = PaSST(dim=int(pe.shape[0]), depth=depth, hidden=int(state["blocks.0.mlp.fc1.weight"].shape[0]),
                patch=int(pe.shape[-1]), f_grid=int(state["freq_new_pos_embed"].shape[2]),
                t_grid=int(state["time_new_pos_embed"].shape[3]), classes=int(state["head.1.weight"].shape[0]))
    own = net.state_dict().keys()  # the file may carry extra training-time tensors
    load_state_strict(net, {k: v for k, v in state.items() if k in own}, path)
    if (N_MELS - net.patch_embed.proj.kernel_size[0]) // PASST_STRIDE + 1 != net.freq_new_pos_embed.shape[2]:
        raise CheckpointError("PaSST frequency grid does not fit 128 mel bands at stride 10", path,
                              "give the f128 s10 checkpoint")
    return net.eval().requires_grad_(False).to(device)


def passt_clip(wav: torch.Tensor, sr: int) -> torch.Tensor:
    """av-benchmark's PaSST input: mono, mean removed, 32 kHz, the first 8 s, zero-padded to 10 s -> (N,)."""
    from deepaudio.eval.v2a import AVB_AUDIO_SECONDS, prepare_clip

    x = prepare_clip(wav, sr, PASST_SR, AVB_AUDIO_SECONDS)
    return F.pad(x, (0, PASST_SAMPLES - len(x)))


@torch.no_grad()
def passt_metrics(items, path: str, wanted: list[str], device: str = "cpu") -> dict[str, tuple[float, str]]:
    """FD_PaSST and KL_PaSST over the items' paired generated / reference clips (av-benchmark pairs both)."""
    from deepaudio.eval import v2a
    from deepaudio.io.audio import load_audio

    net = load_passt(path, device)
    dev = next(net.parameters()).device
    pairs = [(i.gen, i.ref) for i in items if i.gen and i.gen.is_file() and i.ref and i.ref.is_file()]

    def run(p):
        return net(passt_clip(*load_audio(p)).to(dev)[None])

    gen = [run(g) for g, _ in pairs]
    ref = [run(r) for _, r in pairs]
    name = f"PaSST ({Path(path).name}), 32 kHz, first 8 s padded to 10 s"
    out: dict[str, tuple[float, str]] = {}
    if "fd_passt" in wanted and len(pairs) > 1:
        out["fd_passt"] = (v2a.fd(torch.cat([e for e, _ in gen]).cpu(), torch.cat([e for e, _ in ref]).cpu()), name)
    if "kl_passt" in wanted and pairs:
        out["kl_passt"] = (v2a.kl_softmax(torch.cat([lg for _, lg in gen]).cpu(),
                                          torch.cat([lg for _, lg in ref]).cpu()), name)
    return out
