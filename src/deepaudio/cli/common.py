"""Shared CLI option helpers: device/dtype, the bundled default model folder, batch inputs."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import torch

from deepaudio.errors import ConfigError, InputError

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"}


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="fp32", help="compute precision (default fp32)")


def resolve_device(args: argparse.Namespace) -> tuple[torch.device, torch.dtype]:
    name = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"bad --device {name!r}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA device is available", hint="use --device cpu")
    dtype = DTYPES[args.dtype]
    if device.type == "cpu" and dtype == torch.float16:
        raise ConfigError("fp16 is not supported on CPU", hint="use --dtype bf16 or fp32")
    return device, dtype


def default_model_dir(part: str) -> Path:
    """Folder of a part of the bundled default model (``deepaudio/assets/default/<part>``)."""
    from deepaudio.assets import bundled_dir

    return bundled_dir(part)


def list_batch_inputs(source: Path) -> list[tuple[Path, dict[str, str]]]:
    """Videos of a folder (sorted) or of a CSV with a ``video`` column (other columns are per-item options)."""
    if source.is_dir():
        items = sorted(p for p in source.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
        return [(p, {}) for p in items]
    if source.suffix.lower() == ".csv":
        try:
            with source.open(newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
        except UnicodeDecodeError as exc:
            raise InputError(f"batch CSV is not UTF-8 (byte {exc.start})", source, "save it as UTF-8") from exc
        except csv.Error as exc:
            raise InputError(f"batch CSV cannot be parsed ({exc})", source) from exc
        if not rows or "video" not in rows[0]:
            raise InputError("batch CSV needs a 'video' column", source)
        bad = [i + 2 for i, r in enumerate(rows) if not isinstance(r.get("video"), str) or not r["video"].strip()]
        if bad:
            raise InputError(f"batch CSV row(s) {', '.join(map(str, bad[:5]))} name no video", source)
        return [(Path(r["video"]) if Path(r["video"]).is_absolute() else source.parent / r["video"],
                 {k: v for k, v in r.items() if k and k != "video" and isinstance(v, str) and v}) for r in rows]
    raise InputError("batch input must be a folder of videos or a CSV file", source)


def run_batch(items: list[tuple[Path, dict]], outputs, work, overwrite: bool, desc: str) -> int:
    """Run ``work(video, opts, out, mux)`` over a batch and account for every item honestly.

    ``outputs(video) -> (out, mux)``. An item whose output name another item already claimed (``talk.mkv`` and
    ``talk.mp4`` -> ``talk.wav``), or whose output would overwrite an input, fails with that reason; an item
    whose outputs exist is reported as skipped, not done; one bad item never stops the others, and every
    failure line names its file. Returns the exit code (0 all done or skipped, 2 if any failed).
    """
    from tqdm import tqdm

    from deepaudio.cli.main import describe_failure

    claimed: dict[Path, Path] = {}
    inputs = {p.resolve() for p, _ in items}
    done = skipped = failed = 0
    for video, opts in tqdm(items, desc=desc, unit="video", file=sys.stderr, disable=len(items) < 2):
        out, mux = outputs(video)
        try:
            targets = [p for p in (out, mux) if p is not None]
            for t in targets:
                if t.resolve() in inputs:
                    raise InputError(f"output {t} would overwrite an input video", video,
                                     "write the outputs to another folder")
                if t.resolve() in claimed:
                    raise InputError(f"output {t} is already written for {claimed[t.resolve()]} (same name)", video,
                                     "rename one of the inputs or run them separately")
            if not overwrite and all(t.exists() for t in targets):
                skipped += 1
            else:
                work(video, opts, out, mux)
                done += 1
            claimed.update({t.resolve(): video for t in targets})
        except Exception as exc:  # noqa: BLE001 - reported per item, the batch goes on
            code, line = describe_failure(exc)
            if code != 2:
                raise
            failed += 1
            tqdm.write(f"deepaudio: error: {line if str(video) in line else f'{video}: {line}'}", file=sys.stderr)
    parts = [f"{done}/{len(items)} videos done"]
    if skipped:
        parts.append(f"{skipped} skipped (outputs exist; --overwrite redoes them)")
    if failed:
        parts.append(f"{failed} failed")
    print(", ".join(parts))
    return 2 if failed else 0


def option_float(opts: dict, key: str, default, video: Path):
    """A numeric per-item option of a batch CSV row (the failure names the row's video)."""
    if key not in opts:
        return default
    import math

    try:
        value = float(opts[key])
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"batch CSV column {key}={opts[key]!r} is not a positive number", video)
    return value


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``run`` and ``dub``."""
    parser.add_argument("--model", type=Path, help="DeepAudio pipeline folder (default: the bundled default)")
    parser.add_argument("--ref-audio", type=Path, help="reference voice (wav/flac/mp3...)")
    parser.add_argument("--ref-text", help="transcript of the reference voice (default: transcribed offline)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=25, help="V2A Euler steps")
    parser.add_argument("--cfg", type=float, help="V2A guidance weight (default: the model's)")
    parser.add_argument("--nfe", type=int, default=32, help="TTS/V2S ODE steps")
    parser.add_argument("--duck-db", type=float, default=-12.0, help="ambience level under speech (dB)")
    parser.add_argument("--fit", choices=("error", "speed"), default="error",
                        help="a transcript too long for its window: stop with an error, or speak faster")
    parser.add_argument("--timing", choices=("v2a", "lips", "mix"), default="v2a",
                        help="speech timing from the V2A ambience energy (the paper), the speaker's mouth opening "
                             "(needs a visible face; works without V2A weights) or the mean of both")
    add_device_arguments(parser)


def load_deepaudio(args: argparse.Namespace):
    from deepaudio.pipelines.deepaudio import DeepAudio

    device, dtype = resolve_device(args)
    return DeepAudio.from_pretrained(args.model or default_model_dir("pipeline"), device=device, dtype=dtype)


def write_result(result, video: Path | None, output: Path, stems: bool = True) -> list[Path]:
    """Write a DeepAudio result: ``.wav/.flac`` -> the mix; a video suffix -> the video with the mix as
    track 1 and (``stems``) speech and ambience as extra tracks; ``<stem>.json`` beside it lists the route
    and spoken segments. Returns the files written."""
    from deepaudio.io.audio import save_audio

    check_result_output(output, video)
    written = []
    sr = result.sample_rate
    if output.suffix.lower() in VIDEO_SUFFIXES:
        if video is None:
            raise InputError("a video output needs an input video", output, "write .wav instead")
        from deepaudio.io.mux import mux_audio

        tracks = [(result.mix, sr, "mix")]
        if stems and result.speech is not None:
            tracks.append((result.speech, sr, "speech"))
        if stems and result.ambience is not None and result.speech is not None:
            tracks.append((result.ambience, sr, "ambience"))
        mux_audio(video, tracks, output)
    else:
        save_audio(output, result.mix, sr, inputs=[video] if video else [])
    written.append(output)
    info = {"task": result.route.task, "explanation": result.route.explain(),
            "probabilities": result.route.probabilities,
            "segments": [{"start": a, "end": b, "text": t} for a, b, t in result.segments]}
    written.append(write_sidecar(output, info, [video] if video else []))
    return written


def check_result_output(output: Path, video: Path | None, inputs: list = ()) -> None:
    """Before any work: the output is writable, not an input, and has a suffix we write (audio or video)."""
    from deepaudio.io.atomic import check_output_path
    from deepaudio.io.audio import check_audio_output

    check_output_path(output, [p for p in (video, *inputs) if p is not None])
    if output.suffix.lower() in VIDEO_SUFFIXES:
        if video is None:
            raise InputError("a video output needs an input video", output, "write .wav instead")
    else:
        check_audio_output(output)


SIDECAR_MARK = "deepaudio-sidecar"


def write_sidecar(output: Path, info: dict, inputs: list) -> Path:
    """Write ``<stem>.json`` beside ``output``, unless a file of that name exists that a deepaudio run did not
    write (the toy world's truth file, the user's notes): then the first free ``<stem>.deepaudio[-N].json``."""
    import json

    from deepaudio.io.atomic import atomic_path

    side = output.with_suffix(".json")
    k = 1
    while side.exists() and not _is_our_sidecar(side) or any(_same(side, p) for p in inputs):
        side = output.with_name(f"{output.stem}.deepaudio{'' if k == 1 else f'-{k}'}.json")
        k += 1
    if side != output.with_suffix(".json"):
        print(f"deepaudio: {output.with_suffix('.json')} exists and was not written by deepaudio; "
              f"the segment list goes to {side}", file=sys.stderr)
    with atomic_path(side, inputs) as tmp:
        tmp.write_text(json.dumps({SIDECAR_MARK: 1, **info}, indent=2) + "\n")
    return side


def _is_our_sidecar(path: Path) -> bool:
    import json

    try:
        return SIDECAR_MARK in json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


def _same(a: Path, b) -> bool:
    return b is not None and Path(a).resolve() == Path(b).resolve()
