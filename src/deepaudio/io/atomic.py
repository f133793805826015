"""Atomic writes: a file or folder appears whole at its final path or not at all.

We write into a temporary sibling (same filesystem, so ``os.replace`` is atomic) and rename it into
place only after the writer finished without error. A crash or a bad input never leaves a
half-written output behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from deepaudio.errors import OutputPathError


def check_output_path(output: str | Path, inputs: Sequence[str | Path] = ()) -> Path:
    """Validate that ``output`` can be written and is not one of ``inputs``; return it as a Path."""
    out = Path(output).expanduser()
    resolved = out.resolve()
    for src in inputs:
        if src is not None and Path(src).expanduser().resolve() == resolved:
            raise OutputPathError("output path is the same as an input", out, "choose another output file")
    if out.exists() and out.is_dir():
        raise OutputPathError("output path is a folder, expected a file", out, "give a file name")
    parent = resolved.parent
    if parent.exists() and not parent.is_dir():
        raise OutputPathError("output folder is a file", parent, "choose an output path inside a folder")
    if not parent.exists():
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputPathError(f"cannot create the output folder ({exc.strerror})", parent) from exc
    if not os.access(parent, os.W_OK):
        raise OutputPathError("output folder is not writable", parent, "choose a writable location")
    return out


@contextlib.contextmanager
def atomic_path(final: str | Path, inputs: Sequence[str | Path] = ()) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; on success rename it to ``final``, else delete it.

    The temporary name keeps the final suffix so that format-sniffing writers (soundfile, PyAV) pick
    the right container.
    """
    final = check_output_path(final, inputs)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f"{final.suffix}.tmp{final.suffix}",
                                   dir=final.resolve().parent)
    except OSError as exc:  # read-only filesystem, permissions that os.access did not predict (root, ACLs)
        raise OutputPathError(f"cannot write here ({exc.strerror})", final, "choose a writable location") from exc
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``final``; on success it replaces ``final`` as a whole."""
    final = Path(final).expanduser()
    parent = final.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputPathError(f"cannot create the output folder ({exc.strerror})", parent) from exc
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=parent))
    try:
        yield tmp
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old", dir=parent))
            os.replace(final, old / final.name)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
