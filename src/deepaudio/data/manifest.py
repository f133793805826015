"""CSV manifests: one clip per row, paths relative to the CSV's folder.

TTS manifest (header required, extra columns ignored)::

    audio_path,text[,speaker][,energy_path]
    clips/0001.wav,The cat sat on the mat.,joe

``energy_path`` (V2S training) names the audio whose energy contour conditions the clip: the V2A
output for the same video (as in the DeepAudio-V1 reference code: training energy comes from the V2A
output, not from the ground-truth speech).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from deepaudio.errors import InputError, MediaError


@dataclass(frozen=True)
class ManifestRow:
    audio_path: Path
    text: str
    speaker: str | None = None
    energy_path: Path | None = None
    line: int = 0  # line in the CSV (1 = header), for error messages


def read_manifest(path: str | Path, require_text: bool = True, check_files: bool = True) -> list[ManifestRow]:
    """Parse a manifest; every problem names the CSV, the line and what to do."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError("manifest not found", path, "give a CSV with a header line: audio_path,text[,speaker]")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError("manifest is not UTF-8 text", path) from exc
    reader = csv.DictReader(text.splitlines())
    fields = [f.strip() for f in (reader.fieldnames or [])]
    needed = ["audio_path"] + (["text"] if require_text else [])
    missing = [c for c in needed if c not in fields]
    if missing:
        raise InputError(f"manifest lacks the column(s) {', '.join(missing)} (header: {','.join(fields) or 'none'})",
                         path, "the first line must be a header such as audio_path,text,speaker")
    base = path.resolve().parent
    rows = []
    for k, rec in iter_records(reader):
        audio = _resolve(base, rec.get("audio_path", ""))
        if audio is None:
            raise InputError(f"line {k}: empty audio_path", path)
        if require_text and not rec.get("text"):
            raise InputError(f"line {k}: empty text for {rec['audio_path']}", path, "every clip needs its transcript")
        energy = _resolve(base, rec.get("energy_path", ""))
        if check_files:
            for p in (audio, energy):
                if p is not None and not p.is_file():
                    raise MediaError(f"line {k}: audio file not found: {p}", path,
                                     "paths are relative to the manifest's folder")
        rows.append(ManifestRow(audio, rec.get("text", ""), rec.get("speaker") or None, energy, k))
    if not rows:
        raise InputError("manifest has no clips", path, "add one line per clip below the header")
    return rows


def write_manifest(path: str | Path, rows: list[ManifestRow]) -> Path:
    """Write rows as a manifest (paths relative to the CSV's folder when below it), atomically."""
    from deepaudio.io.atomic import atomic_path

    path = Path(path)
    base = path.resolve().parent
    with_speaker = any(r.speaker for r in rows)
    with_energy = any(r.energy_path for r in rows)
    header = ["audio_path", "text"] + (["speaker"] if with_speaker else []) + (["energy_path"] if with_energy else [])
    with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in rows:
            line = [_relative(base, r.audio_path), r.text]
            line += [r.speaker or ""] if with_speaker else []
            line += [_relative(base, r.energy_path) if r.energy_path else ""] if with_energy else []
            w.writerow(line)
    return path


def _resolve(base: Path, value: str) -> Path | None:
    if not value:
        return None
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def _relative(base: Path, p: Path) -> str:
    try:
        return str(Path(p).resolve().relative_to(base))
    except ValueError:
        return str(Path(p).resolve())


def iter_records(reader: csv.DictReader):
    """(line number, row with stripped keys and values) for every non-empty row of a manifest."""
    for k, raw in enumerate(reader, start=2):
        rec = {(key or "").strip(): (val or "").strip() for key, val in raw.items() if key is not None}
        if any(rec.values()):
            yield k, rec
