"""Writing a DeepAudio result: the mix as audio, or muxed into the video with its stems, plus a JSON sidecar.

Pipelines return tensors; the command line and the demo both write them with this one function.
"""

from __future__ import annotations

from pathlib import Path

from deepaudio.errors import InputError

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"}


def write_result(result, video: Path | None, output: Path, stems: bool = True) -> list[Path]:
    """Write a DeepAudio result: ``.wav/.flac`` -> the mix; a video suffix -> the video with the mix as
    track 1 and (``stems``) speech and ambience as extra tracks; ``<stem>.json`` beside it lists the route
    and spoken segments. Returns the files written."""
    import json

    from deepaudio.io.atomic import atomic_path, check_output_path
    from deepaudio.io.audio import save_audio

    check_output_path(output, [video] if video else [])
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
    info = result.metadata
    side = output.with_suffix(".json")
    with atomic_path(side) as tmp:
        tmp.write_text(json.dumps(info, indent=2) + "\n")
    written.append(side)
    return written
