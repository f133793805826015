"""SubRip (.srt) subtitles: the transcript and timing of each line for dubbing.

Accepted: an optional UTF-8 byte-order mark, LF/CRLF/CR line ends, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``
(a dot also accepted before the milliseconds, and trailing position settings ignored), multi-line text,
cues without the counter line. Anything else, and cues that overlap or run backwards, raise
``InputError`` naming the file and the line, because a silently mis-timed dub is worse than an error.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from deepaudio.errors import InputError

_TIME = r"(\d{1,3}):(\d{1,2}):(\d{1,2})[,.](\d{1,3})"
_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}(?:\s+.*)?$")


@dataclasses.dataclass(frozen=True)
class Cue:
    """One subtitle: ``start``/``end`` in seconds, ``text`` with its line breaks kept."""

    index: int
    start: float
    end: float
    text: str

    @property
    def duration(self) -> float:
        return self.end - self.start


def _seconds(h: str, m: str, s: str, ms: str, where: str, source: str | None) -> float:
    if int(m) >= 60 or int(s) >= 60:
        raise InputError(f"{where}: minutes and seconds must be below 60", source, "fix the timestamp")
    return (int(h) * 3_600_000 + int(m) * 60_000 + int(s) * 1000 + int(ms.ljust(3, "0"))) / 1000.0


def _read(path_or_text: str | Path) -> tuple[str, str | None]:
    if isinstance(path_or_text, Path) or ("\n" not in path_or_text and "-->" not in path_or_text):
        p = Path(path_or_text).expanduser()
        if not p.is_file():
            raise InputError("subtitle file not found", p, "check the path")
        raw = p.read_bytes()
        try:
            return raw.decode("utf-8-sig"), str(p)
        except UnicodeDecodeError as exc:
            line = raw[:exc.start].count(b"\n") + 1
            raise InputError(f"line {line}: not valid UTF-8 text", p, "save the subtitles as UTF-8") from exc
    return path_or_text.lstrip("\ufeff"), None


def parse_srt(path_or_text: str | Path, allow_overlap: bool = False) -> list[Cue]:
    """Parse SubRip subtitles from a path or from the text itself (text is recognised by '-->').

    Returns the cues in file order. Raises ``InputError`` for malformed lines, an end before its start,
    cues that overlap the previous one (unless ``allow_overlap``) and a file without any cue.
    """
    text, source = _read(path_or_text)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cues: list[Cue] = []
    i, n = 0, len(lines)
    while i < n:
        if not lines[i].strip():
            i += 1
            continue
        block_line = i + 1
        head = lines[i].strip()
        index = len(cues) + 1
        if not _TIMING.match(head):
            if not head.isdigit():
                raise InputError(f"line {block_line}: expected a cue number or a timing line "
                                 f"'HH:MM:SS,mmm --> HH:MM:SS,mmm', got {head[:40]!r}", source, "fix the subtitle file")
            index = int(head)
            i += 1
            if i >= n or not _TIMING.match(lines[i].strip()):
                rest = [line for line in lines[i:] if line.strip()]
                got = repr(lines[i].strip()[:40]) if rest else "end of file"
                raise InputError(f"line {i + 1}: expected a timing line 'HH:MM:SS,mmm --> HH:MM:SS,mmm', got {got}",
                                 source, "fix the subtitle file")
        m = _TIMING.match(lines[i].strip())
        where = f"line {i + 1}"
        start = _seconds(*m.groups()[:4], where, source)
        end = _seconds(*m.groups()[4:], where, source)
        if end < start:
            raise InputError(f"{where}: cue {index} ends before it starts", source, "fix the timestamps")
        if cues and not allow_overlap and start < cues[-1].end - 1e-9:
            raise InputError(f"{where}: cue {index} starts at {format_time(start)}, before cue {cues[-1].index} ends "
                             f"at {format_time(cues[-1].end)} (overlapping or out of order)", source,
                             "fix the timestamps")
        i += 1
        body = []
        while i < n and lines[i].strip():
            body.append(lines[i].rstrip())
            i += 1
        cues.append(Cue(index, start, end, "\n".join(body)))
    if not cues:
        raise InputError("contains no subtitle cues", source, "give a SubRip file with at least one cue")
    return cues


def format_time(seconds: float) -> str:
    """``HH:MM:SS,mmm`` for a time in seconds."""
    ms = int(round(max(0.0, seconds) * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def format_srt(cues: list[Cue]) -> str:
    """SubRip text for ``cues`` (renumbered from 1, CRLF-free, ending with a blank line)."""
    blocks = [f"{k}\n{format_time(c.start)} --> {format_time(c.end)}\n{c.text}\n" for k, c in enumerate(cues, 1)]
    return "\n".join(blocks)


def write_srt(path: str | Path, cues: list[Cue], inputs=()) -> Path:
    """Write ``cues`` as UTF-8 SubRip atomically."""
    from deepaudio.io.atomic import atomic_path

    with atomic_path(path, inputs) as tmp:
        tmp.write_text(format_srt(cues), encoding="utf-8")
    return Path(path)
