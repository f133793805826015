"""Items of a batch, read one at a time: a folder, a CSV or JSONL manifest, or a text file of paths.

Batch commands stream their inputs so that a manifest of millions of rows costs the memory of one row
(under ``torchrun`` every rank reads the whole manifest and keeps only its own items, see
:mod:`deepaudio.distributed`). An item is named by its ``name`` column, else by the stem of its path;
outputs are ``<output folder>/<name>.<ext>``, which is what makes a re-run skip finished items.

A row that cannot be used (no path, no name) is not an exception that stops the batch: it becomes an
item with ``error`` set, which the batch reports as failed with that reason.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from deepaudio.errors import InputError

MANIFEST_SUFFIXES = (".csv", ".jsonl")
LIST_SUFFIXES = (".txt", ".lst", ".list")


@dataclass(frozen=True)
class BatchItem:
    name: str
    # The item's main input (a video, a text file ...) as a string: pathlib interns every path component
    # (sys.intern), which over 100k rows grows the interpreter's intern table; a Path is made on use.
    source: str | None = None
    options: dict[str, str] = field(default_factory=dict)  # the row's other columns
    error: str | None = None  # why this row cannot be used

    @property
    def path(self) -> Path | None:
        return None if self.source is None else Path(self.source)


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


def _join(base: Path, raw: str) -> str:
    return raw if os.path.isabs(raw) else os.path.join(base, raw)


def is_batch_source(source: Path) -> bool:
    """A folder or a manifest (CSV, JSONL, list of paths) rather than one input file."""
    return source.is_dir() or source.suffix.lower() in MANIFEST_SUFFIXES + LIST_SUFFIXES


def iter_items(source: Path, path_key: str, suffixes: tuple[str, ...] | set[str]) -> Iterator[BatchItem]:
    """Stream the items of ``source``: a folder (files ending in ``suffixes``; unsorted, as the filesystem
    lists them), a CSV with a header or a JSONL file (``path_key`` names the input column; relative paths
    are relative to the manifest), or a text file with one path per line (``#`` starts a comment)."""
    if source.is_dir():
        return _folder(source, {s.lower() for s in suffixes})
    if not source.is_file():
        raise InputError("batch input not found", source, "give a folder, a CSV/JSONL manifest or a list of paths")
    suffix = source.suffix.lower()
    if suffix == ".csv":
        return _guarded(source, _csv(source, path_key))
    if suffix == ".jsonl":
        return _guarded(source, _jsonl(source, path_key))
    if suffix in LIST_SUFFIXES:
        return _guarded(source, _lines(source))
    raise InputError("unknown batch input", source, "give a folder, a .csv, a .jsonl or a .txt list of paths")


def _folder(folder: Path, suffixes: set[str]) -> Iterator[BatchItem]:
    with os.scandir(folder) as entries:  # a generator: no list of the folder is kept
        for e in entries:
            if e.is_file() and os.path.splitext(e.name)[1].lower() in suffixes and not e.name.startswith("."):
                yield BatchItem(_stem(e.name), e.path)


def _open(path: Path):
    try:
        return path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read the manifest ({exc.strerror})", path) from exc


def _guarded(path: Path, rows: Iterator[BatchItem]) -> Iterator[BatchItem]:
    """A manifest that breaks off mid-way (not UTF-8, a CSV quote never closed) stops the batch with a
    one-line error naming the file and the item count read so far."""
    n = 0
    try:
        for item in rows:
            yield item
            n += 1
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 after item {n} (byte {exc.start} of a block)", path, "save it as UTF-8") from exc
    except (csv.Error, OSError) as exc:
        raise InputError(f"cannot be read after item {n} ({exc})", path) from exc


def _item(row: dict, path_key: str, base: Path, where: str) -> BatchItem:
    row = {str(k).strip(): ("" if v is None else str(v)) for k, v in row.items() if k is not None}
    raw = row.pop(path_key, "").strip()
    name = row.pop("name", "").strip()
    path = None
    if raw:
        path = _join(base, raw)
        name = name or _stem(raw)
    if not name:
        return BatchItem(where, error=f"{where}: neither a '{path_key}' nor a 'name' value")
    return BatchItem(name, path, {k: v for k, v in row.items() if v != ""})


def _csv(path: Path, path_key: str) -> Iterator[BatchItem]:
    with _open(path) as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames:
            raise InputError("the manifest is empty (a CSV needs a header row)", path)
        for n, row in enumerate(reader, start=2):
            yield _item(row, path_key, path.parent, f"line {n}")


def _jsonl(path: Path, path_key: str) -> Iterator[BatchItem]:
    with _open(path) as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield BatchItem(f"line {n}", error=f"line {n}: not valid JSON ({exc.msg})")
                continue
            if not isinstance(row, dict):
                yield BatchItem(f"line {n}", error=f"line {n}: expected a JSON object")
                continue
            yield _item(row, path_key, path.parent, f"line {n}")


def _lines(path: Path) -> Iterator[BatchItem]:
    with _open(path) as f:
        for line in f:
            text = line.split("#", 1)[0].strip()
            if text:
                yield BatchItem(_stem(text), _join(path.parent, text))
