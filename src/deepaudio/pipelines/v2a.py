"""Video-to-audio: ambient sound synchronised with the picture (DeepAudio stage 1 = MMAudio).

``V2APipeline.from_pretrained(dir)`` then ``pipe(video, prompt=..., ...)`` -> a ``GenerationResult``
(``audio`` [1, L], ``sample_rate``, ``metadata``; it unpacks as ``wav, sr``). Settings come as keywords or
as one frozen :class:`V2ASettings`.
The video is cut into windows of the network's trained length (overlapping, last one end-aligned);
the video is probed once and the frames of every window at 8 fps and 25 fps are sampled in one decode
pass (``io.clip.VideoClip``); per window they are encoded once (semantic, sync and text
streams), and the latent is integrated from seeded noise with CFG; the windows' audio is cross-faded
into one continuous track as long as the video.

A pipeline folder holds ``config.json`` (kind ``v2a_pipeline``) naming its parts, each a checkpoint
folder of its own: ``net`` (MM-DiT), ``encoder`` (tiny encoders) and the codec (``vae`` + ``vocoder``
for MMAudio weights, or mel settings [+ ``vocoder``] for the tiny default).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from deepaudio.checkpoint import load_model
from deepaudio.config import from_dict
from deepaudio.dsp.windows import plan_windows, stitch
from deepaudio.errors import ConfigError, InputError
from deepaudio.flow import make_generator
from deepaudio.models.v2a.bundle import read_v2a_bundle
from deepaudio.models.v2a.codecs import MelCodec, MelCodecConfig, MMAudioCodec
from deepaudio.models.v2a.sampling import DEFAULT_CFG, DEFAULT_STEPS, sample_latents
from deepaudio.models.v2a.sequence import CLIP_FPS, SYNC_FPS, SequencePlan, fit_frames
from deepaudio.perf import tune_allocator
from deepaudio.pipelines.result import GenerationResult, resolve_settings
from deepaudio.pipelines.v2a_cache import FeatureCache, default_cache_dir, encoder_fingerprint, file_digest

if TYPE_CHECKING:
    from deepaudio.io.video import FrameRequest

# (latents (1, N, C) un-normalised, window start in seconds) -> edited latents of the same shape
LatentEdit = Callable[[torch.Tensor, float], torch.Tensor]


@dataclass(frozen=True)
class V2ASettings:
    steps: int = DEFAULT_STEPS  # Euler steps of the flow ODE
    cfg_strength: float | None = None  # None: the model's own default (V2APipeline.default_cfg)
    seed: int | None = None  # None: a fresh random seed
    overlap: float = 1.0  # seconds shared by consecutive windows (cross-faded)

    def __post_init__(self) -> None:
        from deepaudio import checks  # the command line's checks: types, finiteness, ranges

        checks.number("steps", self.steps, 1, 10000, integer=True), checks.seed("seed", self.seed)
        checks.optional_number("cfg_strength", self.cfg_strength, -100, 100)
        checks.number("overlap", self.overlap, 0)


class V2APipeline:
    def __init__(self, net, encoder, codec, window: float = 8.0, device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float32, default_cfg: float = DEFAULT_CFG, text_conditioning: bool = True):
        if net.config.latent_dim != codec.latent_dim:
            raise ConfigError(f"network latent_dim {net.config.latent_dim} != codec latent_dim {codec.latent_dim}")
        self.net = net.to(device=device, dtype=dtype).eval()
        self.encoder = encoder.to(device=device).eval()
        self.codec = codec
        vocoder = getattr(codec, "vocoder", None)
        if dtype != torch.float32 and hasattr(vocoder, "dense_in"):
            vocoder.dense_in(dtype)  # BigVGAN: convolutions in bf16, Snake and its filters in fp32
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
        tune_allocator()
        # Video features by content hash (pipelines.v2a_cache), for the expensive official encoders only;
        # set to a FeatureCache or None to choose. DEEPAUDIO_FEATURE_CACHE=off (or a folder) sets the default.
        cache_dir = default_cache_dir() if getattr(encoder, "cache_features", False) else None
        self.feature_cache: FeatureCache | None = FeatureCache(cache_dir) if cache_dir is not None else None
        self._encoder_id: str | None = None

    @property
    def sample_rate(self) -> int:
        return self.codec.sample_rate

    def ignores_prompt(self, prompt: str = "", negative_prompt: str = "") -> bool:
        """Whether a call with these prompts would drop them (a model without text conditioning)."""
        return not self.text_conditioning and bool(prompt or negative_prompt)

    def compile(self) -> V2APipeline:
        """Compile the network's guided step (``deepaudio.perf.compile_for_inference``); every window of one
        length reuses it, so it pays from the first video on (MMAudio small_16k: 1.9x the official bf16 step
        against 1.4x eager, docs/speed.md)."""
        from deepaudio.perf import compile_for_inference

        compile_for_inference(self.net, ("predict_flow",))
        return self

    @classmethod
    def from_pretrained(cls, directory: str | Path | None = None, device: str | torch.device = "cpu",
                        dtype: torch.dtype = torch.float32) -> V2APipeline:
        """Load a V2A pipeline folder; ``None`` loads the bundled default (``deepaudio/assets/default/v2a``)."""
        if directory is None:
            from deepaudio.assets import bundled_dir

            directory = bundled_dir("v2a")
        directory = Path(directory)
        bundle = read_v2a_bundle(directory)
        net = load_model(directory / bundle.net, expect_kind="mmaudio_net")
        if bundle.encoder.type == "tiny":
            encoder = load_model(directory / bundle.encoder.dir, expect_kind="v2a_tiny_encoder")
        else:
            from deepaudio.models.v2a.official import OfficialEncoders

            encoder = OfficialEncoders.from_config(directory, bundle.encoder, device=device, dtype=dtype)
        vocoder = load_model(directory / bundle.codec.vocoder) if bundle.codec.vocoder else None
        if bundle.codec.type == "mel":
            codec = MelCodec(from_dict(MelCodecConfig, bundle.codec.settings, directory / "config.json", strict=True),
                             vocoder)
        else:
            codec = MMAudioCodec(load_model(directory / bundle.codec.vae, expect_kind="mmaudio_vae"), vocoder)
        cfg = DEFAULT_CFG if bundle.cfg_strength is None else bundle.cfg_strength
        return cls(net, encoder, codec, window=bundle.window, device=device, dtype=dtype, default_cfg=cfg,
                   text_conditioning=bundle.text_conditioning)

    # ------------------------------------------------------------------------------------------ parts
    def frame_requests(self, start: float, plan: SequencePlan) -> list[FrameRequest]:
        """The window's two frame streams: 8 fps squashed to the semantic encoder's size, 25 fps
        centre-cropped to the sync encoder's size (MMAudio's preprocessing)."""
        from deepaudio.io.video import FrameRequest

        return [FrameRequest(CLIP_FPS, self.encoder.clip_size, "resize", start, plan.duration),
                FrameRequest(SYNC_FPS, self.encoder.sync_size, "center", start, plan.duration)]

    def read_window_frames(self, video, start: float, plan: SequencePlan) -> tuple[torch.Tensor, ...]:
        """One window's uint8 frames (1, T, H, W, 3) at 8 and 25 fps (``video``: a path or a VideoClip)."""
        from deepaudio.io.clip import VideoClip

        (clip, _), (sync, _) = VideoClip.of(video).read(self.frame_requests(start, plan))
        return fit_frames(clip, plan.clip_frames)[None], fit_frames(sync, plan.sync_frames)[None]

    @torch.no_grad()
    def encode_frames(self, frames_clip: torch.Tensor | None, frames_sync: torch.Tensor | None
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 frames (1, T, H, W, 3) at 8 and 25 fps (None = no video) -> (clip_f, sync_f) features."""
        if frames_clip is None:
            return self.net.empty_clip_sequence(1), self.net.empty_sync_sequence(1)
        return self.encoder.encode_video(frames_clip.to(self.device), frames_sync.to(self.device))

    @torch.no_grad()
    def generate_from_frames(self, frames_clip: torch.Tensor | None, frames_sync: torch.Tensor | None,
                             plan: SequencePlan, prompt: str = "", negative_prompt: str = "",
                             steps: int = DEFAULT_STEPS, cfg_strength: float | None = None,
                             generator: torch.Generator | None = None,
                             progress: Callable[[int, int], None] | None = None,
                             latent_edit: LatentEdit | None = None, start: float = 0.0) -> torch.Tensor:
        """One window: uint8 frames (1, T, H, W, 3) at 8 and 25 fps (None = no video) -> waveform (1, L).

        ``latent_edit(latents, start)`` may change the generated, un-normalised latents (1, N, C) of the
        window that begins at ``start`` seconds before they are decoded (voice-over removal clamps spans)."""
        self.net.update_seq_lengths(plan.latent, plan.clip_frames, plan.sync_tokens)
        clip_f, sync_f = self.encode_frames(frames_clip, frames_sync)
        return self.generate_from_features(clip_f, sync_f, plan, prompt, negative_prompt, steps, cfg_strength,
                                           generator, progress, latent_edit, start)

    @torch.no_grad()
    def generate_from_features(self, clip_f: torch.Tensor, sync_f: torch.Tensor, plan: SequencePlan,
                               prompt: str = "", negative_prompt: str = "", steps: int = DEFAULT_STEPS,
                               cfg_strength: float | None = None, generator: torch.Generator | None = None,
                               progress: Callable[[int, int], None] | None = None,
                               latent_edit: LatentEdit | None = None, start: float = 0.0) -> torch.Tensor:
        """One window from its video features (1, M, E) and (1, S, D) (see :meth:`generate_from_frames`)."""
        net = self.net
        cfg_strength = self.default_cfg if cfg_strength is None else cfg_strength
        net.update_seq_lengths(plan.latent, plan.clip_frames, plan.sync_tokens)
        dev, dt = self.device, self.dtype
        if not self.text_conditioning:
            prompt = negative_prompt = ""
        text_f = self.encoder.encode_text([prompt]) if prompt else net.empty_string_sequence(1)
        neg_f = self.encoder.encode_text([negative_prompt]).to(dt) if negative_prompt else None
        conditions = net.preprocess_conditions(clip_f.to(dev, dt), sync_f.to(dev, dt), text_f.to(dt))
        empty = net.get_empty_conditions(1, negative_text_features=neg_f)
        # Noise on CPU from an explicit generator: the same seed gives the same audio on every device.
        x0 = torch.randn(1, plan.latent, net.config.latent_dim, generator=generator).to(dev, dt)
        # Both CFG branches in one 2-row forward (bigger matmuls; equal to two passes up to fp rounding).
        x1 = sample_latents(net, x0, conditions, empty, cfg_strength=cfg_strength, steps=steps, batched=True,
                            progress=progress)
        latents = net.unnormalize(x1).float()
        if latent_edit is not None:
            latents = latent_edit(latents, start)
        wav = self.codec.decode(latents)
        n = int(round(plan.duration * self.sample_rate))
        wav = wav[..., :n]
        return torch.nn.functional.pad(wav, (0, n - wav.shape[-1]))

    def window_features(self, clip, windows, plans) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Every window's (clip_f, sync_f): from the feature cache where it has them, else decoded and encoded
        (and stored); frames are decoded only for the windows the cache misses."""
        cache = self.feature_cache
        keys: list[str | None] = [None] * len(windows)
        found: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        if cache is not None:
            digest = file_digest(clip.path)
            if self._encoder_id is None:
                self._encoder_id = encoder_fingerprint(self.encoder)
            for i, (w, p) in enumerate(zip(windows, plans)):
                keys[i] = cache.key(digest, self._encoder_id, w.start, p.duration, p.clip_frames, p.sync_frames)
                self.net.update_seq_lengths(p.latent, p.clip_frames, p.sync_tokens)
                hit = cache.load(keys[i], tuple(self.net.empty_clip_sequence(1).shape),
                                 tuple(self.net.empty_sync_sequence(1).shape))
                if hit is not None:
                    found[i] = hit
        todo = [i for i in range(len(windows)) if i not in found]
        frames = clip.read_grouped([self.frame_requests(windows[i].start, plans[i]) for i in todo]) if todo else []
        for i, ((f8, _), (f25, _)) in zip(todo, frames):
            p = plans[i]
            self.net.update_seq_lengths(p.latent, p.clip_frames, p.sync_tokens)
            found[i] = self.encode_frames(fit_frames(f8, p.clip_frames)[None], fit_frames(f25, p.sync_frames)[None])
            if cache is not None:
                cache.save(keys[i], *found[i])
        return [found[i] for i in range(len(windows))]

    # ------------------------------------------------------------------------------------------- call
    def __call__(self, video, prompt: str = "", negative_prompt: str = "", duration: float | None = None,
                 steps: int = DEFAULT_STEPS, cfg_strength: float | None = None, seed: int | None = None,
                 overlap: float = 1.0, progress: Callable[[str], None] | None = None,
                 latent_edit: LatentEdit | None = None, settings: V2ASettings | None = None) -> GenerationResult:
        """Ambient audio for ``video`` (a path or an ``io.clip.VideoClip``; whole length, or the first
        ``duration`` seconds); ``cfg_strength`` None takes the model's default (:attr:`default_cfg`);
        ``latent_edit`` see :meth:`generate_from_frames`.

        ``video=None`` is text-to-audio: ``duration`` seconds from the prompt alone, the visual streams
        replaced by the network's learned empty features (MMAudio's no-video mode, the same tokens that
        classifier-free guidance drops the video to during training).
        """
        from deepaudio import checks
        from deepaudio.io.clip import VideoClip
        from deepaudio.io.limits import check_declared_duration

        s = resolve_settings(V2ASettings, settings, steps=steps, cfg_strength=cfg_strength, seed=seed,
                             overlap=overlap)
        checks.text("prompt", prompt), checks.text("negative_prompt", negative_prompt)
        checks.optional_number("duration", duration, 0.01)
        if video is None:
            if duration is None:
                raise InputError("text-to-audio needs a duration", hint="pass --duration SECONDS")
            check_declared_duration(float(duration), None, "--duration")
            clip, total = None, float(duration)
        else:
            if not isinstance(video, (str, Path, VideoClip)):
                raise InputError(f"video must be a file path, got {type(video).__name__}")
            clip = VideoClip.of(video)
            if duration is None:
                check_declared_duration(clip.duration, clip.path, "video")
            total = clip.duration if duration is None else min(float(duration), clip.duration)
        if total <= 0:
            raise InputError("nothing to generate: duration is zero", clip.path if clip else None)
        generator = make_generator(s.seed)
        windows = plan_windows(total, self.window, min(s.overlap, self.window / 2))
        plans = [SequencePlan.for_duration(win.duration, self.codec.latent_rate) for win in windows]
        feats = self.window_features(clip, windows, plans) if clip else [None] * len(windows)
        chunks = []
        for k, (win, plan, feat) in enumerate(_progress(list(zip(windows, plans, feats)), progress)):
            step_cb = None
            if progress is not None:
                def step_cb(i, n, k=k):
                    progress(f"window {k + 1}/{len(windows)} step {i}/{n}")
            self.net.update_seq_lengths(plan.latent, plan.clip_frames, plan.sync_tokens)
            clip_f, sync_f = feat if feat is not None else self.encode_frames(None, None)
            chunks.append(self.generate_from_features(clip_f, sync_f, plan, prompt, negative_prompt, s.steps,
                                                      s.cfg_strength, generator, step_cb, latent_edit,
                                                      win.start).cpu())
        meta = {"task": "v2a", "duration": total, "windows": [(w.start, w.end) for w in windows],
                "steps": s.steps, "cfg_strength": self.default_cfg if s.cfg_strength is None else s.cfg_strength,
                "seed": s.seed, "prompt": prompt, "negative_prompt": negative_prompt}
        return GenerationResult(stitch(chunks, windows, self.sample_rate, total), self.sample_rate, meta)


def _progress(windows: list, progress) -> Iterable:
    """A progress bar on stderr for long videos (more than 8 windows) when the caller shows none."""
    if progress is not None or len(windows) <= 8:
        return windows
    from tqdm import tqdm

    return tqdm(windows, desc="v2a windows", unit="window", file=sys.stderr, leave=False)
