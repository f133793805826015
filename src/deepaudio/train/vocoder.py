"""Train a small Vocos mel vocoder for a TTS's mel (``deepaudio train vocoder``).

Speech from manifests (``audio_path`` column: the toy world's and the speech corpus' ``tts_train.csv``) is
read once at the mel's rate; every batch takes random fixed-length segments (a random gain, so the vocoder
does not learn one loudness). The objective supervises the spectrum and its phase directly
(:mod:`.vocoder_objective`), so it learns on a CPU in about an hour. The last ``--val-fraction`` of each
manifest's clips is held out for the validation loss. The export is a ``vocos`` folder whose feature
extractor is the TTS's mel (``--mel``): ``--vocoder DIR`` of tts/dub/run loads it and the mel check passes.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from deepaudio.data.manifest import read_manifest
from deepaudio.distributed import Ranks
from deepaudio.dsp.mel import MEL_PRESETS
from deepaudio.errors import ConfigError, InputError
from deepaudio.models.vocoders.vocos import VOCOS_PRESETS, Vocos
from deepaudio.train.ema import EMAConfig
from deepaudio.train.loop import TrainConfig, train
from deepaudio.train.vocoder_objective import WEIGHTS, VocoderObjective

HELP = "train a small Vocos vocoder for a TTS's mel (spectrum and phase supervised directly, no GAN)"
MELS = ("f5_24k", "vocos_24k")  # the centred HTK mels Vocos' feature extractor computes
GAIN_RANGE = (0.3, 1.6)  # random loudness of a training segment (the data is RMS-normalised to 0.08)
CUTOFF_RANGE = (3500.0, 11000.0)  # Hz, the band limits --band-limit draws (telephone to 22 kHz recordings)


class SegmentBatches:
    """Batches of ``batch`` random ``segment``-sample crops; keys are (clip, offset, gain[, cutoff]) tuples,
    drawn from (seed, epoch) only, so a resumed run sees exactly the same data.

    ``band_limit``: the fraction of crops low-passed at a random cutoff (``CUTOFF_RANGE``), so the vocoder
    also meets mels whose top bands are empty, as a 16 kHz or telephone recording's are; without it a
    vocoder trained on full-band synthetic speech fills those bands with noise. 0 draws nothing extra.
    """

    def __init__(self, clips: list[np.ndarray], segment: int, batch: int, seed: int, fixed: bool = False,
                 band_limit: float = 0.0, sample_rate: int = 24000):
        self.clips, self.segment, self.batch, self.seed, self.fixed = clips, segment, batch, seed, fixed
        self.band_limit, self.sample_rate = band_limit, sample_rate

    def epoch_batches(self, epoch: int) -> list[tuple]:
        rng = np.random.default_rng([self.seed, 0 if self.fixed else epoch])
        order = np.arange(len(self.clips)) if self.fixed else rng.permutation(len(self.clips))
        keys = []
        for i in order.tolist():
            room = max(0, len(self.clips[i]) - self.segment)
            gain = 1.0 if self.fixed else float(np.exp(rng.uniform(*np.log(GAIN_RANGE))))
            key = (i, int(rng.integers(0, room + 1)), gain)
            if self.band_limit > 0 and not self.fixed:
                key += (float(rng.uniform(*CUTOFF_RANGE)) if rng.random() < self.band_limit else 0.0,)
            keys.append(key)
        return [tuple(keys[k:k + self.batch]) for k in range(0, len(keys) - self.batch + 1, self.batch)] or \
            [tuple(keys)]

    def load(self, key: tuple) -> dict[str, torch.Tensor]:
        out = np.zeros((len(key), self.segment), np.float32)
        for row, (i, start, gain, *cut) in enumerate(key):
            piece = self.clips[i][start:start + self.segment].astype(np.float32) / 32767.0
            out[row, :len(piece)] = piece * gain
            if cut and cut[0] > 0:
                out[row] = low_pass(out[row], cut[0], self.sample_rate)
        return {"wav": torch.from_numpy(out)}


def low_pass(wav: np.ndarray, cutoff: float, sample_rate: int, width: float = 400.0) -> np.ndarray:
    """``wav`` [L] with the spectrum above ``cutoff`` Hz removed (raised-cosine edge ``width`` Hz wide)."""
    spec = np.fft.rfft(wav)
    freqs = np.fft.rfftfreq(len(wav), 1.0 / sample_rate)
    edge = np.clip((freqs - (cutoff - width / 2)) / width, 0.0, 1.0)
    return np.fft.irfft(spec * 0.5 * (1 + np.cos(np.pi * edge)), len(wav)).astype(np.float32)


def parse_weights(items: list[str]) -> dict[str, float]:
    """``["stft=1", "phase=0.5"]`` -> loss weights (only terms the objective has, finite, >= 0)."""
    import math

    out = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            w = float(value)
        except ValueError:
            w = math.nan
        if name not in WEIGHTS or not math.isfinite(w) or w < 0:
            raise ConfigError(f"bad --weights item {item!r}", hint=f"use TERM=W with TERM one of {', '.join(WEIGHTS)}")
        out[name] = w
    return out


def read_clips(manifests: list[Path], sample_rate: int, val_fraction: float) -> tuple[list, list]:
    """(train, val) clips as int16 arrays at ``sample_rate`` (2 bytes a sample: an hour of speech is 170 MB)."""
    from tqdm import tqdm

    from deepaudio.io.audio import load_audio

    train_clips, val_clips = [], []
    for path in manifests:
        rows = read_manifest(path, require_text=False)
        n_val = int(round(len(rows) * val_fraction))
        for k, row in enumerate(tqdm(rows, desc=f"reading {path.name}", unit="clip", file=sys.stderr)):
            wav, _ = load_audio(row.audio_path, sample_rate=sample_rate, mono=True)
            clip = (wav[0].clamp(-1, 1) * 32767).round().to(torch.int16).numpy()
            (val_clips if k >= len(rows) - n_val else train_clips).append(clip)
    if not train_clips:
        raise InputError("no training clips in the manifests", manifests[0])
    return train_clips, val_clips


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, nargs="+", required=True, help="manifest CSV(s) with an audio_path column")
    parser.add_argument("--out", type=Path, required=True, help="output folder (checkpoints, logs, model/)")
    parser.add_argument("--config", choices=VOCOS_PRESETS.names(), default="small_24k", help="Vocos size")
    parser.add_argument("--mel", choices=MELS, default="f5_24k",
                        help="the mel the vocoder reads (the TTS's: f5_24k, the bundled TTS's and F5-TTS'; vocos_24k "
                        "differs only in its log floor)")
    parser.add_argument("--init", type=Path, help="start from this vocoder folder (same size and mel)")
    parser.add_argument("--weights", nargs="+", default=[], metavar="TERM=W",
                        help="loss weights other than the defaults (terms: mag phase complex mel stft)")
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument("--batch", type=int, default=16, help="segments per update")
    parser.add_argument("--segment-frames", type=int, default=64, help="mel frames per segment (x hop samples)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--val-fraction", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-every", type=int, default=500)
    parser.add_argument("--val-every", type=int, default=1000)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--band-limit", type=float, default=0.0,
                        help="fraction of segments low-passed at a random 3.5-11 kHz cutoff (band-limited recordings)")


def init_vocoder(folder: Path, cfg) -> Vocos:
    """The vocoder of ``folder`` to continue training; it must read the same mel as ``cfg``."""
    from deepaudio.checkpoint import load_model

    model = load_model(folder, expect_kind="vocos").float().train()
    got = model.config
    if (got.sample_rate, got.hop_length, got.n_mels, got.log_floor) != (cfg.sample_rate, cfg.hop_length, cfg.n_mels,
                                                                        cfg.log_floor):
        raise ConfigError("--init vocoder reads another mel than --mel", hint="continue a vocoder of the same mel")
    return model


def main(args: argparse.Namespace) -> int:
    # (--steps, --batch, --lr, --segment-frames, --val-fraction: checked by cli.validate before this runs)
    mel = MEL_PRESETS.get(args.mel)
    cfg = replace(VOCOS_PRESETS.get(args.config), sample_rate=mel.sample_rate, n_fft=mel.n_fft,
                  hop_length=mel.hop_length, n_mels=mel.n_mels, input_channels=mel.n_mels, head_n_fft=mel.n_fft,
                  head_hop_length=mel.hop_length, log_floor=mel.log_floor).validate()
    train_clips, val_clips = read_clips(args.data, mel.sample_rate, args.val_fraction)
    segment = args.segment_frames * mel.hop_length
    torch.manual_seed(args.seed)
    vocoder = Vocos(cfg) if args.init is None else init_vocoder(args.init, cfg)
    objective = VocoderObjective(vocoder, mel, parse_weights(args.weights))
    data = SegmentBatches(train_clips, segment, args.batch, args.seed, band_limit=args.band_limit,
                          sample_rate=mel.sample_rate)
    val = SegmentBatches(val_clips, segment, args.batch, args.seed, fixed=True) if val_clips else None
    hours = sum(len(c) for c in train_clips) / mel.sample_rate / 3600
    n_params = sum(p.numel() for p in vocoder.parameters())
    print(f"vocoder {args.config}: {n_params / 1e6:.2f}M parameters; {len(train_clips)} training clips "
          f"({hours:.2f} h), {len(val_clips)} validation clips", file=sys.stderr)
    tcfg = TrainConfig(steps=args.steps, lr=args.lr, warmup=args.warmup, final_lr_ratio=0.05, weight_decay=0.01,
                       betas=(0.8, 0.99), ema=replace(EMAConfig(), beta=0.999, update_after=200, update_every=1),
                       seed=args.seed, save_every=args.save_every, log_every=50, val_every=args.val_every,
                       device="cpu" if not torch.cuda.is_available() else "auto")
    meta = {"stage": "vocoder", "command": " ".join(sys.argv), "data": [str(p) for p in args.data],
            "train_clips": len(train_clips), "train_hours": round(hours, 3), "mel": args.mel,
            "band_limit": args.band_limit, "init": str(args.init) if args.init else None,
            "weights": objective.weights}

    def export(module: VocoderObjective, folder: Path) -> None:
        module.vocoder.save_pretrained(folder, meta={**meta, "steps": args.steps})

    train(objective, data, tcfg, args.out, val=val, export=export, resume=args.resume, run_info=meta)
    if Ranks.from_env().rank == 0:
        print(f"vocoder written to {args.out / 'model'} (use it with --vocoder)")
    return 0

