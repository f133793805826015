"""Atomic writes: a file or folder appears whole at its final path or not at all.

We write into a hidden temporary sibling of the final target (the target a symlink points to, so the
rename never crosses filesystems) and move it into place only after the writer finished without error.
The temporary file is created with mode 0666 filtered by the umask, like any other tool's output. A
failed write (full disk, Ctrl-C, a bad input) removes the temporary file and any folder it created; a
``kill -9`` cannot clean up, so every write first removes stale temporary files of dead processes from
its folder (their names carry the writer's pid). When two processes write the same new file, the first
to finish wins whole and the second says so; an existing file is only replaced if nobody else replaced
it while we were writing.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import shutil
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path

from deepaudio.errors import DeepAudioError, OutputPathError

TAG = ".deepaudio-tmp-"
# The writer's host and pid: on a folder shared between machines (NFS, a multi-node run) only temporary
# files of this host's dead processes are removed, never another machine's write in progress.
HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]
_STALE = re.compile(r"^\..*" + re.escape(TAG) + r"([0-9a-f]{6})-(\d+)-[0-9a-z]+")
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def check_output_path(output: str | Path, inputs: Sequence[str | Path] = ()) -> Path:
    """Validate that ``output`` can be written and is not one of ``inputs``; return it as a Path.

    Nothing is created here (a failure later must not leave an empty output folder behind).
    """
    out = Path(output).expanduser()
    resolved = out.resolve()
    for src in inputs:
        if src is not None and Path(src).expanduser().resolve() == resolved:
            raise OutputPathError("output path is the same as an input", out, "choose another output file")
    if out.exists() and out.is_dir():
        raise OutputPathError("output path is a folder, expected a file", out, "give a file name")
    if out.is_symlink() and not resolved.parent.is_dir():
        raise OutputPathError(f"output is a symlink to {resolved}, whose folder does not exist", out,
                              "fix or remove the link")
    ancestor = resolved.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputPathError("output folder is a file", ancestor, "choose an output path inside a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputPathError("output folder is not writable", ancestor, "choose a writable location")
    return out


def clean_stale(folder: Path) -> list[Path]:
    """Remove temporary files/folders left in ``folder`` by writers that no longer run (``kill -9``)."""
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            m = _STALE.match(entry.name)
            if m is None or m.group(1) != HOST or _alive(int(m.group(2))):
                continue
            path = Path(entry.path)
            with contextlib.suppress(OSError):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(path)
                else:
                    path.unlink()
                removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _tmp_name(final: Path, kind: str = "") -> str:
    # Hidden, tagged with our pid, and ending in the final suffix so format-sniffing writers (soundfile,
    # PyAV) pick the right container.
    return f".{final.name[:80]}{TAG}{HOST}-{os.getpid()}-{secrets.token_hex(4)}{kind}{final.suffix}"


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and missing parents; return the ones created (newest last)."""
    missing = []
    p = folder
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            pass
        except OSError as exc:
            _remove_dirs(missing)
            raise OutputPathError(f"cannot create the output folder ({exc.strerror})", d) from exc
    return list(reversed(missing))


def _remove_dirs(created: list[Path]) -> None:
    for d in reversed(created):
        with contextlib.suppress(OSError):
            d.rmdir()  # only if still empty


def _identity(path: Path):
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size


def write_failure(exc: BaseException, final: Path) -> DeepAudioError:
    """The one-line error for an exception raised while writing ``final`` (full disk, I/O errors)."""
    if isinstance(exc, OSError) and exc.errno in _NO_SPACE:
        return OutputPathError("cannot write: the disk is full", final, "free some space or write elsewhere")
    if isinstance(exc, OSError) and not _nearly_full(final):
        return OutputPathError(f"cannot write ({exc.strerror or exc})", final)
    text = " ".join(str(exc).split())
    if "space" in text.lower() or _nearly_full(final):  # libsndfile reports ENOSPC as "System error."
        return OutputPathError("cannot write: the disk is full", final, "free some space or write elsewhere")
    return OutputPathError(f"cannot write ({text[:160]})", final)


def _nearly_full(final: Path) -> bool:
    try:
        st = os.statvfs(final.resolve().parent)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < (1 << 20)


def _is_write_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) or (type(exc).__module__ or "").startswith(("soundfile", "av"))


@contextlib.contextmanager
def atomic_path(final: str | Path, inputs: Sequence[str | Path] = ()) -> Iterator[Path]:
    """Yield a temporary path beside ``final``'s target; on success move it to the target, else delete it."""
    final = check_output_path(final, inputs)
    target = final.resolve()
    created = _make_parents(target.parent)
    clean_stale(target.parent)
    before = _identity(target)
    tmp = target.parent / _tmp_name(target)
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the umask applies
    except OSError as exc:  # read-only filesystem, permissions that os.access did not predict (root, ACLs)
        _remove_dirs(created)
        raise OutputPathError(f"cannot write here ({exc.strerror})", final, "choose a writable location") from exc
    try:
        try:
            yield tmp
            _commit(tmp, target, final, before)
        except Exception as exc:
            if _is_write_error(exc):
                raise write_failure(exc, final) from exc
            raise
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        _remove_dirs(created)
        raise


def _commit(tmp: Path, target: Path, final: Path, before) -> None:
    with contextlib.suppress(OSError):  # durable before it becomes visible
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    taken = OutputPathError("another process wrote this file while we were writing; kept its version", final,
                            "write to different names from parallel runs")
    if before is None:
        try:
            os.link(tmp, target)  # fails if another writer created the file meanwhile: first one wins
        except FileExistsError:
            raise taken from None
        except OSError:  # filesystems without hard links (vfat, some FUSE): plain rename
            if target.exists():
                raise taken from None
            os.replace(tmp, target)
            return
        tmp.unlink()
        return
    if _identity(target) != before:
        raise taken
    os.replace(tmp, target)


@contextlib.contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``final``; on success it replaces ``final`` as a whole."""
    final = Path(final).expanduser()
    target = final.resolve()
    created = _make_parents(target.parent)
    clean_stale(target.parent)
    tmp = target.parent / _tmp_name(target, "d")
    try:
        tmp.mkdir()
    except OSError as exc:
        _remove_dirs(created)
        raise OutputPathError(f"cannot create the output folder ({exc.strerror})", target.parent) from exc
    try:
        try:
            yield tmp
            if target.exists():
                old = target.parent / _tmp_name(target, "o")
                os.replace(target, old)
                os.replace(tmp, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, target)
        except Exception as exc:
            if isinstance(exc, OSError):
                raise write_failure(exc, final) from exc
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_dirs(created)
        raise
