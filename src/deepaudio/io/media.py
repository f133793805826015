"""Opening media containers with PyAV: one place for the checks every reader needs.

A garbage, stream-less or cut-off file becomes a one-line ``MediaError`` here, so audio reading,
video probing/decoding and muxing all refuse bad input the same way.
"""

from __future__ import annotations

from pathlib import Path

from deepaudio.errors import MediaError


def short_error(exc: BaseException) -> str:
    """An FFmpeg/PyAV error on one line, at most 160 characters (for one-line error messages)."""
    text = " ".join(str(exc).split())
    return text[:160]


def open_media(path: Path):
    """Open ``path`` for reading; raise ``MediaError`` for garbage, stream-less or truncated files."""
    import av

    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise MediaError(f"cannot be opened as media ({short_error(exc)})", path,
                         "the file is corrupt, truncated or not a media file") from exc
    try:
        if not container.streams:
            raise MediaError("contains no readable streams", path, "the file is truncated or not a media file")
        check_complete(container, path)
    except BaseException:
        container.close()
        raise
    return container


def check_complete(container, path: Path) -> None:
    """A seek index (mp4 sample tables) that points past the end of the file means a cut-off download."""
    size = path.stat().st_size
    for st in container.streams:
        try:
            entries = st.index_entries
            last = entries[len(entries) - 1] if len(entries) else None
        except Exception:  # no index for this format
            continue
        if last is not None and last.pos >= 0 and last.pos + last.size > size:
            raise MediaError(f"file is truncated: its index needs {last.pos + last.size} bytes, the file has {size}",
                             path, "re-export or re-download it")


def video_stream(container, path: Path):
    if not container.streams.video:
        raise MediaError("has no video stream", path, "give a video file")
    return container.streams.video[0]
