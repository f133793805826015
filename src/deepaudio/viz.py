"""Pictures of what a run produced: results people would rather see than read.

``clip_figure(video, result, out_png, truth=None)`` draws one clip on a shared time axis: a strip of
frames, a log-mel spectrogram of every distinct track (the sound track, and the ambience and speech
when they differ from it), the speech/ambience split as waveform envelopes, and the V2S timing
contour (DeepAudio-V1: the energy of the V2A output) beside the mouth opening the video
shows. Ground truth (toy-world impact times, speech spans, mouth contours) is overlaid as vertical
lines and shaded spans, so a glance shows whether the sound landed on the events.

``compare_spectrograms([(name, wav, sr), ...], out_png)`` puts spectrograms one above the other on
one colour scale and one time axis (generated vs reference); the evaluation report can use it too.

Figures are built on matplotlib's Agg canvas inside the functions (no pyplot state, nothing at
import) and written atomically as PNG.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from deepaudio.errors import InputError

DB_PER_LN = 20.0 / np.log(10.0)  # log-magnitude (ln) -> dB
DB_RANGE = 80.0  # dynamic range shown in spectrograms
STRIP_FRAMES = 10
CONTOUR_RATE = 24000 / 256  # V2S contour frames per second (the TTS mel rate)
FIG_WIDTH = 12.0
TRACK_COLORS = {"mix": "#333333", "ambience": "#4477aa", "speech": "#ee7733"}


@dataclass(frozen=True)
class GroundTruth:
    """What really happened in a clip, in seconds: sound events, speech spans, mouth openings."""

    events: tuple[float, ...] = ()  # e.g. audible impact times
    spans: tuple[tuple[float, float, str], ...] = ()  # (start, end, label): who speaks when
    mouths: tuple[np.ndarray, ...] = ()  # per face: opening in [0, 1] per video frame
    fps: float = 25.0  # rate of ``mouths``
    event_label: str = "impact"
    span_label: str = "speech"  # or "voice-over": off-screen speech the picture does not show

    @classmethod
    def from_toyworld(cls, meta: dict) -> GroundTruth:
        """From a toy-world clip's ``meta.json`` / ``Clip.truth``: audible contacts, utterances, talking mouths."""
        events = sorted(float(c["time"]) for layer in meta.get("layers", []) if layer.get("type") == "bounce"
                        for c in layer.get("contacts", []) if c.get("audible", True))
        tag = "voice-over" if meta.get("voice_over") else "speech"
        spans = tuple((float(u["start"]), float(u["end"]), f"{tag} ({u.get('speaker', '?')})")
                      for u in meta.get("speech", []) or [])
        mouths = tuple(np.asarray(f["mouth"], np.float32) for f in meta.get("faces", []) if f.get("talking"))
        return cls(tuple(events), spans, mouths, float(meta.get("fps", 25.0)), span_label=tag)

    @classmethod
    def coerce(cls, truth) -> GroundTruth | None:
        """None, a GroundTruth, a toy-world meta dict or the path of a ``meta.json``."""
        if truth is None or isinstance(truth, GroundTruth):
            return truth
        if isinstance(truth, (str, Path)):
            try:
                truth = json.loads(Path(truth).read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise InputError(f"cannot read ground truth ({exc})", truth, "give a toy-world meta.json") from exc
        if not isinstance(truth, dict):
            raise InputError(f"ground truth must be a dict or a meta.json path, got {type(truth).__name__}")
        return cls.from_toyworld(truth)


# ------------------------------------------------------------------------------------------ helpers


def _figure(width: float, height: float):
    """A figure on the Agg canvas (set here, not at import; no global pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _stacked_axes(heights: list[float], top: float, gap: float = 0.5, bottom: float = 0.45, right: float = 0.99):
    """Axes one above the other with fixed sizes in inches (no tight_layout: it draws the figure twice)."""
    total = top + sum(heights) + gap * (len(heights) - 1) + bottom
    fig = _figure(FIG_WIDTH, total)
    grid = fig.add_gridspec(len(heights), 1, height_ratios=heights, left=0.055, right=right, top=1 - top / total,
                            bottom=bottom / total, hspace=gap / (sum(heights) / len(heights)))
    return fig, [fig.add_subplot(grid[i, 0]) for i in range(len(heights))]


def _save(fig, out_png: str | Path) -> Path:
    from deepaudio.io.atomic import atomic_path

    out = Path(out_png)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png")
    return out


def _mono(wav) -> torch.Tensor:
    x = torch.as_tensor(wav, dtype=torch.float32).detach().cpu()
    if x.ndim == 2:
        x = x.mean(0)
    if x.ndim != 1:
        raise InputError(f"expected audio shaped [samples] or [channels, samples], got {tuple(x.shape)}")
    return x


def plot_mel_settings(sample_rate: int):
    """Log-mel settings for pictures: the F5/Vocos mel at 24 kHz (what the TTS models see), otherwise
    the same design scaled to the rate (~40-46 ms windows, 75% overlap, up to Nyquist)."""
    from deepaudio.dsp.mel import F5_24K

    if sample_rate == F5_24K.sample_rate:
        return F5_24K
    n_fft = 1024 if sample_rate <= 24000 else 2048
    return dataclasses.replace(F5_24K, sample_rate=int(sample_rate), n_fft=n_fft, win_length=n_fft,
                               hop_length=n_fft // 4, n_mels=80 if sample_rate <= 16000 else 100, f_max=None)


def log_mel_db(wav, sample_rate: int) -> np.ndarray:
    """[n_mels, frames] log-mel magnitude in dB of the mono mix of ``wav``."""
    from deepaudio.dsp.mel import mel_spectrogram

    s = plot_mel_settings(sample_rate)
    x = _mono(wav)
    if x.numel() < s.n_fft:  # reflect padding needs more samples than half a window
        x = torch.nn.functional.pad(x, (0, s.n_fft - x.numel()))
    return (mel_spectrogram(x, s) * DB_PER_LN).numpy()


def _show_mel(ax, mel_db: np.ndarray, sample_rate: int, vmax: float, duration: float):
    s = plot_mel_settings(sample_rate)
    frames = mel_db.shape[-1]
    image = ax.imshow(mel_db, origin="lower", aspect="auto", cmap="magma", vmin=vmax - DB_RANGE, vmax=vmax,
                      extent=(0.0, frames * s.hop_length / sample_rate, 0, s.n_mels), interpolation="nearest")
    ax.set_xlim(0, duration)
    ax.set_ylabel("mel bin", fontsize=8)
    return image


def _envelope(x: torch.Tensor, sample_rate: int, bins: int = 800) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Min/max per bin: the waveform's outline without plotting every sample."""
    n = x.numel()
    step = max(1, n // bins)
    m = n // step
    blocks = x[: m * step].reshape(m, step)
    t = (np.arange(m) + 0.5) * step / sample_rate
    return t, blocks.min(1).values.numpy(), blocks.max(1).values.numpy()


def _mark_truth(ax, truth: GroundTruth | None, spans: bool = True) -> None:
    if truth is None:
        return
    for k, t in enumerate(truth.events):
        label = f"{truth.event_label} (truth)" if k == 0 else None
        ax.axvline(t, color="#cc3311", lw=0.8, ls="--", alpha=0.8, label=label)
    if spans:
        for k, (a, b, _) in enumerate(truth.spans):
            ax.axvspan(a, b, color="#009988", alpha=0.12, label=f"{truth.span_label} (truth)" if k == 0 else None)


# --------------------------------------------------------------------------------------- frame strip


def read_strip(video, n: int = STRIP_FRAMES, height: int = 96) -> tuple[np.ndarray, np.ndarray, float]:
    """``n`` frames evenly across the clip (at the middle of n equal slots): (uint8 [n, h, w, 3], times, duration).

    ``video`` is a file path or ``(frames uint8 [T, H, W, 3], fps)``.
    """
    if isinstance(video, (str, Path)):
        from deepaudio.io.video import iter_frames, probe_video

        info = probe_video(video)
        h = min(height, info.height)
        w = max(2, int(round(h * info.width / info.height)))
        picks = []
        for frame, t in iter_frames(video, fps=n / info.duration, size=(h, w), crop="resize",
                                    start=info.duration / (2 * n)):
            picks.append((frame.numpy(), t))
            if len(picks) == n:
                break
        return np.stack([p[0] for p in picks]), np.array([p[1] for p in picks]), info.duration
    frames, fps = video
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise InputError(f"expected frames shaped [T, H, W, 3], got {frames.shape}")
    duration = len(frames) / float(fps)
    times = (np.arange(n) + 0.5) * duration / n
    idx = np.minimum((times * fps).astype(int), len(frames) - 1)
    return frames[idx], times, duration


def _draw_strip(ax, frames: np.ndarray, times: np.ndarray, duration: float) -> None:
    ax.imshow(np.concatenate(list(frames), axis=1), aspect="auto", extent=(0.0, duration, 0, 1))
    ax.set_xticks(times)
    ax.set_xticklabels([f"{t:.2f} s" for t in times], fontsize=7)
    ax.set_yticks([])
    ax.set_xlim(0, duration)
    ax.set_title("frames", fontsize=9, loc="left")


# ------------------------------------------------------------------------------------------ figures


def _tracks(result) -> list[tuple[str, torch.Tensor]]:
    """The distinct tracks of a result, the sound track first (a v2s mix *is* its speech, a v2a mix its ambience)."""
    mix = result.mix
    names = {"v2a": "sound track = ambience (V2A)", "tts": "sound track = speech (TTS)",
             "v2s": "sound track = speech (V2S)", "dub": "sound track = speech over ducked ambience"}
    out = [(names.get(result.route.task, "sound track"), mix)]
    for name, wav in (("ambience (V2A)", result.ambience), ("speech (TTS/V2S)", result.speech)):
        if wav is not None and not (wav.shape == mix.shape and torch.equal(wav, mix)):
            out.append((name, wav))
    return out


def default_title(result, model: str | None = None, seed: int | None = None, extra: str = "") -> str:
    route = result.route
    how = "forced by task" if route.overridden else "chosen by the gate"
    head = f"task {route.task} ({how}; runs {' + '.join(route.modules) or '?'})"
    bits = [head] + ([f"model {model}"] if model else []) + ([f"seed {seed}"] if seed is not None else [])
    lines = [" | ".join(bits + ([extra] if extra else []))]
    if route.probabilities:
        probs = ", ".join(f"{k} {v:.2f}" for k, v in sorted(route.probabilities.items(), key=lambda kv: -kv[1]))
        lines.append(f"gate probabilities: {probs}")
    if route.transcript:
        lines.append(f'transcript: "{route.transcript}"')
    return "\n".join(lines)


def clip_figure(video, result, out_png: str | Path, truth=None, title: str | None = None,
                n_frames: int = STRIP_FRAMES) -> Path:
    """One PNG for one clip: frames, spectrograms, speech/ambience split, timing contour, ground truth.

    ``video``: path, ``(frames, fps)`` or None (speech-only results); ``result``: a ``DeepAudioResult``;
    ``truth``: a :class:`GroundTruth`, a toy-world meta dict or its ``meta.json`` path.
    """
    truth = GroundTruth.coerce(truth)
    sr = int(result.sample_rate)
    tracks = _tracks(result)
    duration = max(_mono(w).numel() for _, w in tracks) / sr
    strip = read_strip(video, n_frames) if video is not None else None
    if strip is not None:
        duration = max(duration, strip[2])
    split = result.ambience is not None and result.speech is not None
    has_contour = result.contour is not None or (truth is not None and truth.mouths)
    frame_h = 0.0
    if strip is not None:
        h, w = strip[0].shape[1:3]
        frame_h = min(2.2, (FIG_WIDTH * 0.86 / n_frames) * h / w)
    rows = ([("strip", frame_h)] if strip is not None else []) + [("mel", 1.6)] * len(tracks)
    rows += [("waves", 1.2)]
    rows += [("contour", 1.2)] if has_contour else []
    heads = (title or default_title(result)).count("\n") + 1
    fig, axes = _stacked_axes([r[1] for r in rows], top=0.17 * heads + 0.3)
    it = iter(axes)
    if strip is not None:
        _draw_strip(next(it), *strip[:2], duration)
    mels = [log_mel_db(w, sr) for _, w in tracks]
    vmax = max(float(m.max()) for m in mels)
    for (name, _), mel in zip(tracks, mels):
        ax = next(it)
        _show_mel(ax, mel, sr, vmax, duration)
        _mark_truth(ax, truth, spans=False)
        ax.set_title(f"{name}: log-mel (dB, shared scale)", fontsize=9, loc="left")
    ax = next(it)
    waves = (("ambience", result.ambience), ("speech", result.speech)) if split else (("mix", result.mix),)
    for name, wav in waves:
        t, lo, hi = _envelope(_mono(wav), sr)
        ax.fill_between(t, lo, hi, color=TRACK_COLORS[name], alpha=0.7, lw=0, label=name)
    _mark_truth(ax, truth)
    ax.set_xlim(0, duration)
    ax.set_title("speech / ambience split (waveforms)" if split else "sound track (waveform)", fontsize=9, loc="left")
    ax.legend(fontsize=7, loc="upper right", ncol=4)
    if has_contour:
        ax = next(it)
        if result.contour is not None:
            c = result.contour.detach().float().cpu().numpy().ravel()
            ax.plot(np.arange(c.size) / CONTOUR_RATE, c, color="#ee7733", lw=1.0, label="V2S timing contour")
        if truth is not None:
            for k, mouth in enumerate(truth.mouths):
                ax.step(np.arange(mouth.size) / truth.fps, mouth, where="post", color="#009988", lw=1.0,
                        label="mouth opening (truth)" if k == 0 else None)
        _mark_truth(ax, truth)
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlim(0, duration)
        what = "timing: contour that drives V2S vs the video" if result.contour is not None else "mouth opening"
        ax.set_title(what, fontsize=9, loc="left")
        ax.legend(fontsize=7, loc="upper right", ncol=4)
    for ax in axes[1 if strip is not None else 0:]:
        ax.tick_params(labelsize=7)
    axes[-1].set_xlabel("time (s)", fontsize=8)
    fig.suptitle(title or default_title(result), fontsize=9, x=0.01, y=1 - 0.08 / fig.get_figheight(), ha="left",
                 va="top")
    return _save(fig, out_png)


def compare_spectrograms(items: Sequence[tuple[str, object, int]], out_png: str | Path, title: str | None = None,
                         sample_rate: int | None = None, events: Sequence[float] = ()) -> Path:
    """Spectrograms of ``[(name, wav, sr), ...]`` one above the other, resampled to one rate (default: the
    lowest given, the band all of them have), on one dB scale and one time axis; ``events`` (s) as lines."""
    from deepaudio.io.audio import resample

    if not items:
        raise InputError("nothing to compare: no audio given")
    rate = int(sample_rate or min(int(sr) for _, _, sr in items))
    waves = [(name, resample(_mono(wav), int(sr), rate)) for name, wav, sr in items]
    duration = max(w.numel() for _, w in waves) / rate
    mels = [log_mel_db(w, rate) for _, w in waves]
    vmax = max(float(m.max()) for m in mels)
    top = 0.17 * title.count("\n") + 0.55 if title else 0.3
    fig, axes = _stacked_axes([1.5] * len(waves), top=top, right=0.92)
    for ax, (name, w), mel in zip(axes, waves, mels):
        image = _show_mel(ax, mel, rate, vmax, duration)
        for t in events:
            ax.axvline(t, color="#cc3311", lw=0.8, ls="--", alpha=0.8)
        ax.set_title(f"{name} ({w.numel() / rate:.2f} s, {rate} Hz)", fontsize=9, loc="left")
        ax.tick_params(labelsize=7)
    axes[-1].set_xlabel("time (s)", fontsize=8)
    y0, y1 = axes[-1].get_position().y0, axes[0].get_position().y1
    bar = fig.colorbar(image, cax=fig.add_axes((0.93, y0, 0.012, y1 - y0)))
    bar.set_label("dB", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontsize=10, x=0.01, y=1 - 0.08 / fig.get_figheight(), ha="left", va="top")
    return _save(fig, out_png)
