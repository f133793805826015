"""One validation layer for every parsed CLI argument (called by ``main`` before a command runs).

Rules go by the argument's destination name, so a new command or training stage that reuses a name
(``--seed``, ``--steps``, ``--lr``) is checked without extra code; every float must be finite and every
text must be valid UTF-8 (argv bytes that are not arrive as lone surrogates) whatever its name.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from deepaudio import checks
from deepaudio.checks import SEED_MAX

# dest -> (low, high) inclusive; None = unbounded. Checked after the generic finiteness rule.
RANGES: dict[str, tuple[float | None, float | None]] = {
    "seed": (0, SEED_MAX),
    "nfe": (1, 10000), "steps": (1, None), "v2a_steps": (1, 10000), "max_rounds": (1, 100),
    "beam_size": (1, 100), "threads": (1, 4096), "n": (1, None), "n_train": (0, None), "n_test": (0, None),
    "batch": (1, None), "batch_frames": (1, None), "max_samples": (1, None), "grad_accum": (1, None),
    "predictor_steps": (0, None), "align_rounds": (0, None), "shard_size": (1, None), "hidden": (1, None),
    "lexical_dim": (0, None), "ema_update_every": (1, None), "ema_update_after": (0, None),
    "log_every": (1, None), "val_every": (0, None), "save_every": (1, None), "keep_checkpoints": (1, None),
    "warmup": (0, None),
    "speed": (0.1, 10.0), "sway": (-1.0, 1.0), "cfg": (-100.0, 100.0), "overlap": (0.0, None), "timbre": (0.0, 1.0),
    "adapt": (0, 10000),
    "duration": (0.01, None), "max_duration": (0.01, None), "duck_db": (-120.0, 0.0), "tolerance": (0.0, None),
    "lr": (0.0, 10.0), "weight_decay": (0.0, None), "grad_clip": (0.0, None), "final_lr_ratio": (0.0, None),
    "ema_beta": (0.0, 1.0), "cond_drop": (0.0, 1.0), "audio_drop": (0.0, 1.0), "energy_drop": (0.0, 1.0),
    "voice_aug": (0.0, 1.0), "voice_aug_warp": (1.0, 4.0), "voice_aug_tilt": (0.0, 24.0),
    "energy_fps": (0.0, 1000.0), "onset_loss": (0.0, None),
    "segment_frames": (8, 4096), "val_fraction": (0.0, 0.5), "band_limit": (0.0, 1.0),
}
# ODE step counts of the generation commands (training's --steps counts optimizer updates instead).
GENERATION_STEPS_MAX = 10000
TTS_MAX_DURATION = 600.0  # seconds of new speech one tts call may be asked for


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def validate_args(args: argparse.Namespace) -> None:
    """Check every value of a parsed namespace (raises ``ConfigError``/``InputError``)."""
    command = getattr(args, "command", None)
    for dest, value in sorted(vars(args).items()):
        if dest.startswith("_") or value is None or isinstance(value, bool):
            continue
        for v in value if isinstance(value, (list, tuple)) else [value]:
            _check_one(command, dest, v, args)


def _check_one(command, dest: str, v, args) -> None:
    if isinstance(v, str):
        checks.text(_flag(dest) if dest not in ("video", "files", "sources", "converter") else dest, v)
    elif isinstance(v, Path):
        return  # a file name may hold any bytes on POSIX; opening it reports a missing file
    elif isinstance(v, (int, float)):
        low, high = RANGES.get(dest, (None, None))
        if isinstance(v, int) and dest not in RANGES:
            low = 0  # counts and sizes: a negative one is never meant
        if dest in ("steps", "nfe") and command != "train":
            high = GENERATION_STEPS_MAX
        hint = None
        if dest == "duration":
            from deepaudio.io.limits import max_duration

            high = getattr(args, "max_duration", None) or (TTS_MAX_DURATION if command == "tts" else max_duration())
            hint = "pass --max-duration SECONDS if you mean it"
        checks.number(_flag(dest), v, low, high, integer=isinstance(v, int), hint=hint)
