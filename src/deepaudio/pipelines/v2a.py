"""Video-to-audio: ambient sound synchronised with the picture (DeepAudio stage 1 = MMAudio).

``V2APipeline.from_pretrained(dir)`` then ``pipe(video, prompt=..., ...) -> (waveform [1, L], rate)``.
The video is cut into windows of the network's trained length (overlapping, last one end-aligned);
per window the frames are sampled at 8 fps and 25 fps, encoded once (semantic, sync and text
streams), and the latent is integrated from seeded noise with CFG; the windows' audio is cross-faded
into one continuous track as long as the video.

A pipeline folder holds ``config.json`` (kind ``v2a_pipeline``) naming its parts, each a checkpoint
folder of its own: ``net`` (MM-DiT), ``encoder`` (tiny encoders) and the codec (``vae`` + ``vocoder``
for MMAudio weights, or mel settings [+ ``vocoder``] for the tiny default).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from deepaudio.checkpoint import load_model, read_config
from deepaudio.errors import ConfigError, InputError
from deepaudio.flow import make_generator
from deepaudio.models.v2a.sampling import DEFAULT_CFG, DEFAULT_STEPS, sample_latents
from deepaudio.pipelines.v2a_codecs import MelCodec, MelCodecConfig, MMAudioCodec
from deepaudio.pipelines.windows import plan_windows, stitch

CLIP_FPS = 8.0
SYNC_FPS = 25.0
SYNC_WINDOW, SYNC_STRIDE, SYNC_TOKENS = 16, 8, 8


@dataclass(frozen=True)
class SequencePlan:
    """Token counts of one window (MMAudio ``SequenceConfig`` generalised to any latent rate)."""

    duration: float
    latent: int
    clip_frames: int
    sync_frames: int

    @property
    def sync_tokens(self) -> int:
        return ((self.sync_frames - SYNC_WINDOW) // SYNC_STRIDE + 1) * SYNC_TOKENS

    @classmethod
    def for_duration(cls, duration: float, latent_rate: float) -> SequencePlan:
        sync_frames = int(duration * SYNC_FPS)
        if sync_frames < SYNC_WINDOW:
            raise InputError(f"video window of {duration:.2f} s is too short",
                             hint=f"V2A needs at least {SYNC_WINDOW / SYNC_FPS:.2f} s of video")
        return cls(duration, int(math.ceil(duration * latent_rate - 1e-6)), int(duration * CLIP_FPS), sync_frames)


def _fit_frames(frames: torch.Tensor, n: int) -> torch.Tensor:
    """Crop or pad (repeating the last frame) to exactly n frames, as MMAudio does for short streams."""
    if frames.shape[0] >= n:
        return frames[:n]
    if frames.shape[0] == 0:
        raise InputError("no frames could be decoded in this part of the video")
    pad = frames[-1:].expand(n - frames.shape[0], *frames.shape[1:])
    return torch.cat([frames, pad])


class V2APipeline:
    def __init__(self, net, encoder, codec, window: float = 8.0, device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float32, default_cfg: float = DEFAULT_CFG, text_conditioning: bool = True):
        if net.config.latent_dim != codec.latent_dim:
            raise ConfigError(f"network latent_dim {net.config.latent_dim} != codec latent_dim {codec.latent_dim}")
        self.net = net.to(device=device, dtype=dtype).eval()
        self.encoder = encoder.to(device=device).eval()
        self.codec = codec
        self.window = float(window)
        # Guidance used when a call gives none: MMAudio's 4.5, or the checkpoint's own ("cfg_strength" in its
        # config.json) for a model that was measured to want another (benchmarks/bench_default_v2a.py --cfg).
        self.default_cfg = float(default_cfg)
        # False for a model trained without prompts (the bundled toy V2A: the toy world's clips have none):
        # its text encoder is untrained, so a prompt would only feed it inputs it never saw; prompts are
        # then dropped here and the CLI says so (``ignores_prompt``).
        self.text_conditioning = bool(text_conditioning)
        self.device = torch.device(device)
        self.dtype = dtype

    @property
    def sample_rate(self) -> int:
        return self.codec.sample_rate

    def ignores_prompt(self, prompt: str = "", negative_prompt: str = "") -> bool:
        """Whether a call with these prompts would drop them (a model without text conditioning)."""
        return not self.text_conditioning and bool(prompt or negative_prompt)

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str | torch.device = "cpu",
                        dtype: torch.dtype = torch.float32) -> V2APipeline:
        directory = Path(directory)
        cfg = read_config(directory, "v2a_pipeline")["config"]
        net = load_model(directory / cfg.get("net", "net"), expect_kind="mmaudio_net")
        enc_cfg = cfg.get("encoder", {"type": "tiny", "dir": "encoder"})
        if enc_cfg["type"] == "tiny":
            encoder = load_model(directory / enc_cfg.get("dir", "encoder"), expect_kind="v2a_tiny_encoder")
        elif enc_cfg["type"] == "official":
            from deepaudio.pipelines.v2a_official import OfficialEncoders

            encoder = OfficialEncoders.from_config(directory, enc_cfg, device=device)
        else:
            raise ConfigError(f"unknown V2A encoder type {enc_cfg['type']!r}", directory / "config.json")
        codec_cfg = cfg.get("codec", {"type": "mel"})
        vocoder = None
        if codec_cfg.get("vocoder"):
            vocoder = load_model(directory / codec_cfg["vocoder"])
        if codec_cfg["type"] == "mel":
            codec = MelCodec(MelCodecConfig(**codec_cfg.get("settings", {})), vocoder)
        elif codec_cfg["type"] == "mmaudio":
            vae = load_model(directory / codec_cfg.get("vae", "vae"), expect_kind="mmaudio_vae")
            codec = MMAudioCodec(vae, vocoder)
        else:
            raise ConfigError(f"unknown V2A codec type {codec_cfg['type']!r}", directory / "config.json")
        return cls(net, encoder, codec, window=float(cfg.get("window", 8.0)), device=device, dtype=dtype,
                   default_cfg=float(cfg.get("cfg_strength", DEFAULT_CFG)),
                   text_conditioning=bool(cfg.get("text_conditioning", True)))

    # ------------------------------------------------------------------------------------------ parts
    def read_window_frames(self, video: str | Path, start: float, plan: SequencePlan) -> tuple[torch.Tensor, ...]:
        from deepaudio.io.video import read_frames

        clip, _ = read_frames(video, fps=CLIP_FPS, size=self.encoder.clip_size, crop="resize", start=start,
                              duration=plan.duration)
        sync, _ = read_frames(video, fps=SYNC_FPS, size=self.encoder.sync_size, crop="center", start=start,
                              duration=plan.duration)
        return _fit_frames(clip, plan.clip_frames)[None], _fit_frames(sync, plan.sync_frames)[None]

    @torch.no_grad()
    def generate_from_frames(self, frames_clip: torch.Tensor | None, frames_sync: torch.Tensor | None,
                             plan: SequencePlan, prompt: str = "", negative_prompt: str = "",
                             steps: int = DEFAULT_STEPS, cfg_strength: float | None = None,
                             generator: torch.Generator | None = None,
                             progress: Callable[[int, int], None] | None = None) -> torch.Tensor:
        """One window: uint8 frames (1, T, H, W, 3) at 8 and 25 fps (None = no video) -> waveform (1, L)."""
        net = self.net
        cfg_strength = self.default_cfg if cfg_strength is None else cfg_strength
        net.update_seq_lengths(plan.latent, plan.clip_frames, plan.sync_tokens)
        dev, dt = self.device, self.dtype
        if frames_clip is not None:
            clip_f, sync_f = self.encoder.encode_video(frames_clip.to(dev), frames_sync.to(dev))
        else:
            clip_f, sync_f = net.empty_clip_sequence(1), net.empty_sync_sequence(1)
        if not self.text_conditioning:
            prompt = negative_prompt = ""
        text_f = self.encoder.encode_text([prompt]) if prompt else net.empty_string_sequence(1)
        neg_f = self.encoder.encode_text([negative_prompt]).to(dt) if negative_prompt else None
        conditions = net.preprocess_conditions(clip_f.to(dt), sync_f.to(dt), text_f.to(dt))
        empty = net.get_empty_conditions(1, negative_text_features=neg_f)
        # Noise on CPU from an explicit generator: the same seed gives the same audio on every device.
        x0 = torch.randn(1, plan.latent, net.config.latent_dim, generator=generator).to(dev, dt)
        x1 = sample_latents(net, x0, conditions, empty, cfg_strength=cfg_strength, steps=steps, progress=progress)
        wav = self.codec.decode(net.unnormalize(x1).float())
        n = int(round(plan.duration * self.sample_rate))
        wav = wav[..., :n]
        return torch.nn.functional.pad(wav, (0, n - wav.shape[-1]))

    # ------------------------------------------------------------------------------------------- call
    def __call__(self, video: str | Path, prompt: str = "", negative_prompt: str = "", duration: float | None = None,
                 steps: int = DEFAULT_STEPS, cfg_strength: float | None = None, seed: int | None = None,
                 overlap: float = 1.0, progress: Callable[[str], None] | None = None) -> tuple[torch.Tensor, int]:
        """Ambient audio for ``video`` (whole length, or the first ``duration`` seconds); ``cfg_strength`` None
        takes the model's default (:attr:`default_cfg`)."""
        from deepaudio.io.video import probe_video

        info = probe_video(video)
        total = info.duration if duration is None else min(float(duration), info.duration)
        if total <= 0:
            raise InputError("nothing to generate: duration is zero", video)
        generator = make_generator(seed)
        windows = plan_windows(total, self.window, min(overlap, self.window / 2))
        chunks = []
        for k, win in enumerate(windows):
            plan = SequencePlan.for_duration(win.duration, self.codec.latent_rate)
            frames_clip, frames_sync = self.read_window_frames(video, win.start, plan)
            step_cb = None
            if progress is not None:
                def step_cb(i, n, k=k):
                    progress(f"window {k + 1}/{len(windows)} step {i}/{n}")
            chunks.append(self.generate_from_frames(frames_clip, frames_sync, plan, prompt, negative_prompt, steps,
                                                    cfg_strength, generator, step_cb).cpu())
        return stitch(chunks, windows, self.sample_rate, total), self.sample_rate
