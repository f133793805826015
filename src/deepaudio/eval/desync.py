"""DeSync (MMAudio / av-benchmark): how far, in seconds, Synchformer believes generated audio is shifted
from the real video.

Shape key: N samples, S segments, Fm = 128 mel bins, Tm = 66 mel frames, T frames, C = 3, H = W = 224.

Reference behaviour (av-benchmark ``extract.py`` / ``extract_video.py`` / ``evaluate.py``), implemented here:

* audio: mono, resampled to 16 kHz, the first 8 s; 0.64 s segments (10240 samples) every 0.32 s; each
  segment's power mel spectrogram (n_fft 1024, Hann window of 400, hop 160, centred with reflect padding,
  128 HTK mel bands 0-8 kHz without area normalisation; torchaudio ``MelSpectrogram`` defaults),
  ``log(mel + 1e-6)``, right-padded with zeros to 66 frames, normalised as (x + 4.2677393) / (2 * 4.5689974);
* video: 25 fps, short side resized to 224 (bicubic) and centre-cropped, [-1, 1]; the first 8 s;
  16-frame segments every 8 frames, so audio and video segments cover the same 0.64 s spans;
* the offset head sees 14 segments (4.8 s) at a time: the first 14 and the last 14 of each clip; each
  window's arg-max class on the 21-step grid -2.0 .. +2.0 s gives |offset|; DeSync is the mean over
  all windows of all clips (two per clip).

Departures: resampling uses soxr (av-benchmark: torchaudio's sinc resampler); a pair shorter than 8 s
is scored on the segments both sides have (at least 14, i.e. 4.8 s), where av-benchmark refuses it.

The real video is paired with the generated audio, as av-benchmark pairs ``synchformer_video.pth`` of
the ground-truth cache with ``synchformer_audio.pth`` of the generated one.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from deepaudio.errors import DeepAudioError
from deepaudio.eval.synchformer_av import AST_SPEC_FRAMES, SyncModel
from deepaudio.eval.v2a import DESYNC_GRID

SYNC_SR = 16000
SEGMENT_SAMPLES, SEGMENT_STEP = 10240, 5120  # 0.64 s every 0.32 s
SYNC_FPS, SEGMENT_FRAMES, FRAME_STEP = 25, 16, 8
CLIP_SECONDS = 8.0
LOGMEL_MEAN, LOGMEL_STD = -4.2677393, 4.5689974


@lru_cache(maxsize=2)
def _mel_basis() -> torch.Tensor:
    from deepaudio.dsp.mel import mel_filterbank

    return mel_filterbank(SYNC_SR, 1024, 128, 0.0, SYNC_SR / 2, mel_scale="htk", norm=None,
                          arithmetic="torchaudio")  # (M, F)


def audio_segments(wav: torch.Tensor) -> torch.Tensor:
    """16 kHz mono (N,) -> normalised log-mel segments (S, 128, 66); S = (N - 10240) // 5120 + 1."""
    if wav.numel() < SEGMENT_SAMPLES:
        raise ValueError(f"audio shorter than one 0.64 s sync segment ({wav.numel()} samples at 16 kHz)")
    segs = wav.float().unfold(0, SEGMENT_SAMPLES, SEGMENT_STEP)  # (S, 10240)
    window = torch.hann_window(400, periodic=True, device=wav.device)
    spec = torch.stft(segs, 1024, 160, 400, window=window, center=True, pad_mode="reflect",
                      return_complex=True).abs().pow(2)  # (S, 513, 65)
    mel = _mel_basis().to(wav.device) @ spec  # (S, 128, 65)
    x = torch.log(mel + 1e-6)
    x = F.pad(x, (0, AST_SPEC_FRAMES - x.shape[-1]))[..., :AST_SPEC_FRAMES]
    return (x - LOGMEL_MEAN) / (2 * LOGMEL_STD)


def video_segments(frames: torch.Tensor) -> torch.Tensor:
    """(T, C, H, W) in [-1, 1] at 25 fps -> (S, 16, C, H, W); S = (T - 16) // 8 + 1."""
    if frames.shape[0] < SEGMENT_FRAMES:
        raise ValueError(f"video shorter than one sync segment ({frames.shape[0]} frames at 25 fps)")
    return frames.unfold(0, SEGMENT_FRAMES, FRAME_STEP).permute(0, 4, 1, 2, 3)


def _batched(fn, x: torch.Tensor, batch: int) -> torch.Tensor:
    return torch.cat([fn(x[i:i + batch]) for i in range(0, len(x), batch)])


@torch.no_grad()
def clip_offsets(model: SyncModel, wav16k: torch.Tensor, frames: torch.Tensor, batch: int = 8) -> list[float]:
    """Predicted offsets (s) of the first and last window for one clip: audio (N,) at 16 kHz, frames
    (T, C, H, W) in [-1, 1] at 25 fps. Clips longer than 8 s are cut to their first 8 s."""
    dev = next(model.parameters()).device
    wav = wav16k[: int(SYNC_SR * CLIP_SECONDS)].to(dev)
    frames = frames[: int(SYNC_FPS * CLIP_SECONDS)].to(dev)
    a = _batched(model.audio_tokens, audio_segments(wav), batch)  # (Sa, ta, D)
    v = _batched(model.visual_tokens, video_segments(frames), batch)  # (Sv, tv, D)
    n, s = model.cfg.window_segments, min(len(a), len(v))
    if s < n:
        raise ValueError(f"DeSync needs {n} sync segments ({(n + 1) * SEGMENT_STEP / SYNC_SR:.2f} s of audio and "
                         f"video), this pair gives {s}")
    starts = (0, s - n)
    logits = model.offset_logits(torch.stack([v[i:i + n] for i in starts]), torch.stack([a[i:i + n] for i in starts]))
    grid = DESYNC_GRID if model.cfg.num_offsets == len(DESYNC_GRID) else np.linspace(-2, 2, model.cfg.num_offsets)
    return [float(grid[i]) for i in logits.argmax(-1).cpu().tolist()]


def read_sync_frames(video, size: int) -> torch.Tensor:
    """The first 8 s of a video as Synchformer input (T, 3, size, size) in [-1, 1] at 25 fps."""
    from deepaudio.io.video import read_frames
    from deepaudio.models.encoders.synchformer import frames_to_sync_input

    frames, _ = read_frames(video, fps=SYNC_FPS, size=size, crop="center", duration=CLIP_SECONDS)
    return frames_to_sync_input(torch.as_tensor(frames))


def sync_audio(wav: torch.Tensor, sr: int) -> torch.Tensor:
    """Mono, 16 kHz, the first 8 s; unlike ``v2a.prepare_clip`` the mean is kept, as av-benchmark's
    Synchformer audio dataset keeps it."""
    x = (wav if wav.dim() == 1 else wav.mean(0)).detach().float().cpu()
    if sr != SYNC_SR:
        import soxr

        x = torch.from_numpy(soxr.resample(x.numpy(), sr, SYNC_SR, quality="HQ").astype(np.float32))
    return x[: int(SYNC_SR * CLIP_SECONDS)]


@torch.no_grad()
def desync_items(items, path: str, device: str = "cpu") -> tuple[float, str, list[str]]:
    """DeSync over items with generated audio and the real video: (value, backend name, problems)."""
    from pathlib import Path

    from deepaudio.eval.synchformer_av import load_sync_model
    from deepaudio.io.audio import load_audio

    model = load_sync_model(path, device)
    offsets: list[float] = []
    problems: list[str] = []
    for item in items:
        if not (item.gen and item.gen.is_file()):
            continue
        if item.video is None:
            problems.append(f"{item.name}: desync skipped: no video")
            continue
        try:
            frames = read_sync_frames(item.video, model.cfg.visual.img_size)
            offsets += clip_offsets(model, sync_audio(*load_audio(item.gen)), frames)
        except (DeepAudioError, ValueError, OSError) as exc:  # unreadable or too short media: this item only
            problems.append(f"{item.name}: desync skipped: {exc}")
    value = float(np.mean(np.abs(offsets))) if offsets else float("nan")
    n = model.cfg.window_segments
    return value, f"Synchformer ({Path(path).name}), first/last {n} segments of 8 s", problems


@torch.no_grad()
def desync_from_caches(opts) -> tuple[float, str, list[str]] | None:
    """DeSync from av-benchmark caches: ``synchformer_audio.pth`` of the generated clips and
    ``synchformer_video.pth`` of the real ones ({name: (S, t, D)} branch features), through our offset head.
    None when either file is absent (then the items are encoded from the media)."""
    from pathlib import Path

    from deepaudio.eval.synchformer_av import load_sync_model
    from deepaudio.eval.v2a import load_cache_file

    gen_file = Path(opts.gen_features).expanduser() / "synchformer_audio.pth"
    ref_file = Path(opts.ref_features).expanduser() / "synchformer_video.pth"
    if not (gen_file.is_file() and ref_file.is_file()):
        return None
    model = load_sync_model(opts.synchformer, opts.device)
    gen, ref = load_cache_file(gen_file), load_cache_file(ref_file)
    names = sorted(set(gen) & set(ref))
    problems = [f"{n}: desync skipped: only in one Synchformer cache" for n in sorted(set(gen) ^ set(ref))]
    n = model.cfg.window_segments
    grid = DESYNC_GRID if model.cfg.num_offsets == len(DESYNC_GRID) else np.linspace(-2, 2, model.cfg.num_offsets)
    offsets = []
    dev = next(model.parameters()).device
    for name in names:
        a, v = gen[name].float().to(dev), ref[name].float().to(dev)
        if min(len(a), len(v)) < n:
            problems.append(f"{name}: desync skipped: fewer than {n} cached sync segments")
            continue
        for sl in (slice(0, n), slice(-n, None)):  # av-benchmark: [:, :14] and [:, -14:] of each side
            offsets.append(float(grid[int(model.offset_logits(v[None, sl], a[None, sl]).argmax())]))
    value = float(np.mean(np.abs(offsets))) if offsets else float("nan")
    return value, f"Synchformer head ({Path(opts.synchformer).name}) on av-benchmark caches", problems
