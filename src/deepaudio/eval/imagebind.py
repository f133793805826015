"""ImageBind (Girdhar et al., CVPR 2023) audio and vision encoders for the IB-score, as av-benchmark runs
``imagebind_huge``: cosine between the video embedding of the real clip and the audio embedding of the
generated clip.

Shape key: B clips, K sub-clips (3 audio windows; 3 crops x 3 frame pairs of video), M = 128 mel bins,
T = 204 fbank frames, D width (768 audio, 1280 vision), E = 1024 joint embedding.

* audio (ImageBind ``load_and_transform_audio_data`` as av-benchmark calls it): 16 kHz, the whole clip
  (mixed to mono; the reference reads the first channel);
  three 2 s windows starting at 0, (L - 2) / 2 and L - 2 s; each mean-removed and turned into a Kaldi fbank
  (25 ms symmetric Hann frames every 10 ms without edge padding, per-frame DC removal, pre-emphasis
  0.97, 512-point power spectrum, 128 mel bands 20 Hz - 8 kHz, log floored at float32 eps), cut or
  zero-padded to 204 frames and normalised by (x + 4.268) / 9.138;
* video (av-benchmark ``VideoDataset``): 0.5 fps over the first 8 s (4 frames), short side resized to 224
  (bicubic), CLIP mean / std, three 224-square crops along the long side (start, centre, end), and
  the three pairs of consecutive frames of each crop as 2-frame clips;
* encoders: ViTs with a cls token and a learned position table; audio: 16x16 patches at stride 10,
  LayerNorm on the patch tokens, attention with learned extra key / value (``add_bias_kv``); vision:
  2x14x14 tubelets, LayerNorm before the blocks; both: pre-norm blocks (eps 1e-6, GELU), a head
  LayerNorm + cls token + bias-free projection to E; each sub-clip embedding is L2-normalised, then
  the sub-clips are averaged (ImageBind's ``reduce_list``).

Names follow the released ``imagebind_huge.pth`` (``modality_preprocessors.{audio,vision}``,
``modality_trunks.*``, ``modality_heads.*``); the text, depth, thermal and IMU parts are ignored. Widths,
depths and the joint size come from the weight shapes; head counts (vision 16, audio 12) from the release.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from deepaudio.errors import CheckpointError, DeepAudioError

IB_SR, IB_CLIP_S, IB_CLIPS, IB_FRAMES = 16000, 2.0, 3, 204
IB_MEAN, IB_STD = -4.268, 9.138
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)
VIDEO_FPS, VIDEO_SECONDS, VIDEO_SIZE = 0.5, 8.0, 224
HEADS = {"vision": 16, "audio": 12}


def kaldi_fbank(wav: torch.Tensor) -> torch.Tensor:
    """(N,) 16 kHz -> (frames, 128) log mel energies (torchaudio ``compliance.kaldi.fbank`` as ImageBind sets it)."""
    from deepaudio.eval.passt import kaldi_mel_banks

    frames = wav.float().unfold(0, 400, 160)  # snip_edges: only whole frames
    frames = frames - frames.mean(1, keepdim=True)
    prev = torch.cat([frames[:, :1], frames[:, :-1]], 1)  # pre-emphasis repeats the first sample
    frames = (frames - 0.97 * prev) * torch.hann_window(400, periodic=False, device=wav.device)
    power = torch.fft.rfft(F.pad(frames, (0, 112))).abs().pow(2)  # (frames, 257)
    mel = power @ kaldi_mel_banks(128, 512, IB_SR, 20.0, IB_SR / 2).to(wav.device).T
    return torch.log(mel.clamp(min=torch.finfo(torch.float32).eps))


def audio_input(wav: torch.Tensor) -> torch.Tensor:
    """16 kHz mono (N,) -> (3, 1, 128, 204): three 2 s windows spread over the clip, normalised fbanks."""
    dur = wav.numel() / IB_SR
    step = max(dur - IB_CLIP_S, 0.0) / (IB_CLIPS - 1)
    out = []
    for i in range(IB_CLIPS):
        start = step * i
        clip = wav[int(start * IB_SR):int((start + IB_CLIP_S) * IB_SR)]
        if clip.numel() < 400:
            raise ValueError(f"audio too short for ImageBind ({dur:.2f} s)")
        fb = kaldi_fbank(clip - clip.mean()).T  # (128, frames)
        fb = F.pad(fb, (0, max(0, IB_FRAMES - fb.shape[1])))[:, :IB_FRAMES]
        out.append(((fb - IB_MEAN) / IB_STD)[None])
    return torch.stack(out)


def video_input(frames: torch.Tensor) -> torch.Tensor:
    """uint8 (T, H, W, 3) at 0.5 fps -> (3 crops * (T - 1) pairs, 3, 2, 224, 224)."""
    x = frames.permute(0, 3, 1, 2).float() / 255.0
    h, w = x.shape[-2:]
    scale = VIDEO_SIZE / min(h, w)
    size = (max(VIDEO_SIZE, int(h * scale)), max(VIDEO_SIZE, int(w * scale)))  # torchvision truncates the long side
    x = F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)
    x = (x - torch.tensor(CLIP_MEAN)[:, None, None]) / torch.tensor(CLIP_STD)[:, None, None]
    h, w = size
    crops = []
    for idx in range(3):
        y0, x0 = math.ceil((h - VIDEO_SIZE) / 2), math.ceil((w - VIDEO_SIZE) / 2)
        if h > w:
            y0 = 0 if idx == 0 else h - VIDEO_SIZE if idx == 2 else y0
        else:
            x0 = 0 if idx == 0 else w - VIDEO_SIZE if idx == 2 else x0
        crops.append(x[:, :, y0:y0 + VIDEO_SIZE, x0:x0 + VIDEO_SIZE])  # (T, C, S, S)
    pairs = [c[i:i + 2] for i in range(x.shape[0] - 1) for c in crops]
    if not pairs:
        raise ValueError("ImageBind video needs at least 2 frames at 0.5 fps (2 s)")
    return torch.stack(pairs).transpose(1, 2)  # (K, C, 2, S, S)


class IBBlock(nn.Module):
    def __init__(self, dim: int, heads: int, bias_kv: bool):
        super().__init__()
        self.norm_1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = nn.MultiheadAttention(dim, heads, add_bias_kv=bias_kv, batch_first=True)
        self.norm_2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(dim, 4 * dim)
        self.mlp.fc2 = nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp.fc2(F.gelu(self.mlp.fc1(self.norm_2(x))))


class IBEncoder(nn.Module):
    """One modality: stem + cls + positions -> blocks -> head; sub-clips (B, K, ...) -> (B, E)."""

    def __init__(self, modality: str, dim: int, depth: int, out_dim: int, tokens: int):
        super().__init__()
        self.modality = modality
        pre = nn.Module()
        stem = pre.rgbt_stem = nn.Module()
        if modality == "audio":
            stem.proj = nn.Conv2d(1, dim, 16, stride=10, bias=False)
            stem.norm_layer = nn.LayerNorm(dim)
        else:
            stem.proj = nn.Sequential(nn.Identity(), nn.Conv3d(3, dim, (2, 14, 14), stride=(2, 14, 14), bias=False))
        pre.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        pre.pos_embedding_helper = nn.Module()
        pre.pos_embedding_helper.pos_embed = nn.Parameter(torch.zeros(1, tokens, dim))
        self.pre = pre
        trunk = self.trunk = nn.Module()
        trunk.pre_transformer_layer = nn.Sequential(nn.LayerNorm(dim, eps=1e-6) if modality == "vision"
                                                    else nn.Identity())
        trunk.blocks = nn.Sequential(*[IBBlock(dim, HEADS[modality], modality == "audio") for _ in range(depth)])
        self.head = nn.Sequential(nn.LayerNorm(dim, eps=1e-6), nn.Identity(), nn.Linear(dim, out_dim, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, k = x.shape[:2]
        stem = self.pre.rgbt_stem
        t = stem.proj(x.flatten(0, 1)).flatten(2).transpose(1, 2)  # (B*K, P, D)
        if self.modality == "audio":
            t = stem.norm_layer(t)
        t = torch.cat([self.pre.cls_token.expand(t.shape[0], -1, -1), t], 1) + self.pre.pos_embedding_helper.pos_embed
        t = self.trunk.blocks(self.trunk.pre_transformer_layer(t))
        emb = self.head[2](self.head[0](t[:, 0]))  # (B*K, E)
        return F.normalize(emb, dim=-1).view(b, k, -1).mean(1)


def load_imagebind(path: str | Path, device: str | torch.device = "cpu") -> dict[str, IBEncoder]:
    """Audio and vision encoders from ``imagebind_huge.pth``; refuses a file without either."""
    from deepaudio.checkpoint import load_weights_file

    state = load_weights_file(path)
    out = {}
    for mod, stem_key in (("audio", "rgbt_stem.proj.weight"), ("vision", "rgbt_stem.proj.1.weight")):
        names = {"pre": f"modality_preprocessors.{mod}.", "trunk": f"modality_trunks.{mod}.",
                 "head": f"modality_heads.{mod}."}
        need = (names["pre"] + stem_key, names["pre"] + "pos_embedding_helper.pos_embed", names["head"] + "2.weight")
        missing = [k for k in need if k not in state]
        if missing:
            raise CheckpointError(f"not an ImageBind checkpoint: no {mod} encoder ({missing[0]})", path,
                                  "give imagebind_huge.pth (facebookresearch/ImageBind release)")
        pat = re.compile(re.escape(names["trunk"]) + r"blocks\.(\d+)\.")
        depth = len({int(m.group(1)) for k in state if (m := pat.match(k))})
        enc = IBEncoder(mod, int(state[need[0]].shape[0]), depth, int(state[need[2]].shape[0]),
                        int(state[need[1]].shape[1]))
        wanted = {f"{names[k.split('.')[0]]}{k.split('.', 1)[1]}": k for k in enc.state_dict()}
        absent = sorted(set(wanted) - set(state))
        if absent:
            raise CheckpointError(f"ImageBind {mod} weights incomplete ({len(absent)} missing, e.g. {absent[0]})",
                                  path, "give imagebind_huge.pth")
        own = enc.state_dict()
        for theirs, ours in wanted.items():
            if state[theirs].shape != own[ours].shape:
                raise CheckpointError(f"shape mismatch for {theirs}: {tuple(state[theirs].shape)}", path)
        enc.load_state_dict({ours: state[theirs] for theirs, ours in wanted.items()}, strict=True)
        out[mod] = enc.eval().requires_grad_(False).to(device)
    return out


@torch.no_grad()
def ib_score_items(items, path: str, device: str = "cpu") -> tuple[float, str, list[str]]:
    """Mean cosine between the ImageBind video embedding of each item's real video and the audio embedding
    of its generated clip: (value, backend name, problems)."""
    from deepaudio.io.audio import load_audio
    from deepaudio.io.video import read_frames

    enc = load_imagebind(path, device)
    dev = next(enc["audio"].parameters()).device
    sims, problems = [], []
    for item in items:
        if not (item.gen and item.gen.is_file()):
            continue
        if item.video is None:
            problems.append(f"{item.name}: ib_score skipped: no video")
            continue
        try:
            wav, sr = load_audio(item.gen)
            wav = wav.mean(0) if wav.dim() > 1 else wav
            if sr != IB_SR:
                import numpy as np
                import soxr

                wav = torch.from_numpy(soxr.resample(wav.float().numpy(), sr, IB_SR, quality="HQ").astype(np.float32))
            frames, _ = read_frames(item.video, fps=VIDEO_FPS, duration=VIDEO_SECONDS)
            a = enc["audio"](audio_input(wav)[None].to(dev))
            v = enc["vision"](video_input(torch.as_tensor(frames[: int(VIDEO_FPS * VIDEO_SECONDS)]))[None].to(dev))
            sims.append(float(F.cosine_similarity(a, v, dim=-1)))
        except (DeepAudioError, ValueError, OSError) as exc:  # unreadable or too short media: this item only
            problems.append(f"{item.name}: ib_score skipped: {exc}")
    value = sum(sims) / len(sims) if sims else float("nan")
    return value, f"ImageBind ({Path(path).name}), 3 x 2 s audio windows, 4 frames at 0.5 fps x 3 crops", problems
