"""Writing a DeepAudio result: the mix as audio, or muxed into the video with its stems, plus a JSON sidecar.

Pipelines return tensors; the command line, the demo and the web app all write them with these functions.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from deepaudio.errors import InputError

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"}
SIDECAR_MARK = "deepaudio-sidecar"


def write_result(result, video: Path | None, output: Path, stems: bool = True,
                 model: Path | None = None) -> list[Path]:
    """Write a DeepAudio result: ``.wav/.flac`` -> the mix; a video suffix -> the video with the mix as
    track 1 and (``stems``) speech and ambience as extra tracks; ``<stem>.json`` beside it holds the result's
    metadata (route, spoken segments) and ``model`` (the folder given; None: the bundled default). Returns the
    files written."""
    from deepaudio.io.audio import save_audio

    check_result_output(output, video)
    sr = result.sample_rate
    if output.suffix.lower() in VIDEO_SUFFIXES:
        from deepaudio.io.mux import mux_audio

        tracks = [(result.mix, sr, "mix")]
        if stems and result.speech is not None:
            tracks.append((result.speech, sr, "speech"))
        if stems and result.ambience is not None and result.speech is not None:
            tracks.append((result.ambience, sr, "ambience"))
        mux_audio(video, tracks, output)
    else:
        save_audio(output, result.mix, sr, inputs=[video] if video else [])
    written = [output]
    if getattr(result, "trace", None) is not None:  # task 'think': the step-by-step record, as `think` writes it
        from deepaudio.think.trace import trace_path_for

        written.append(result.trace.save(trace_path_for(output), [video] if video else []))
    from deepaudio.assets import BUNDLED_LABEL, model_label

    info = {"model": model_label(model) or BUNDLED_LABEL, **result.metadata}
    return [*written, write_sidecar(output, info, [video] if video else [])]


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


def write_sidecar(output: Path, info: dict, inputs: list = ()) -> Path:
    """Write ``<stem>.json`` beside ``output``, unless a file of that name exists that a deepaudio run did not
    write (the toy world's truth file, the user's notes): then the first free ``<stem>.deepaudio[-N].json``."""
    from deepaudio.io.atomic import atomic_path

    side = output.with_suffix(".json")
    k = 1
    while side.exists() and not _is_our_sidecar(side) or any(_same(side, p) for p in inputs):
        side = output.with_name(f"{output.stem}.deepaudio{'' if k == 1 else f'-{k}'}.json")
        k += 1
    if side != output.with_suffix(".json"):
        print(f"deepaudio: {output.with_suffix('.json')} exists and was not written by deepaudio; "
              f"the sidecar goes to {side}", file=sys.stderr)
    with atomic_path(side, inputs) as tmp:
        tmp.write_text(json.dumps({SIDECAR_MARK: 1, **info}, indent=2) + "\n")
    return side


def _is_our_sidecar(path: Path) -> bool:
    try:
        return SIDECAR_MARK in json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


def _same(a: Path, b) -> bool:
    return b is not None and Path(a).resolve() == Path(b).resolve()
