"""Entry point of the ``deepaudio`` console script.

Subcommands are discovered from the modules ``deepaudio.cli.cmd_*``; each defines ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``. This is the one place that turns failures into
exit codes: every argument is validated first (``cli/validate.py``); an expected failure (a
``DeepAudioError``, an I/O error such as a full disk, running out of memory, undecodable input)
prints one line ``deepaudio: error: ...`` and exits with 2; anything else prints one short line
pointing to ``--debug`` (which shows the traceback) and exits with 1; Ctrl-C exits with 130, also
while the heavy modules are still being imported.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from deepaudio import __version__
from deepaudio.errors import DeepAudioError

EXIT_USER, EXIT_BUG, EXIT_INTERRUPTED = 2, 1, 130


class OneLineParser(argparse.ArgumentParser):
    """Argument errors in the same one-line style as every other error (argparse prints usage + error)."""

    def error(self, message: str):
        sys.stderr.write(f"deepaudio: error: {self.prog}: {' '.join(message.split())} (see {self.prog} --help)\n")
        sys.exit(EXIT_USER)


def _command_modules():
    import deepaudio.cli as pkg

    mods = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("cmd_"):
            mods.append(importlib.import_module(f"deepaudio.cli.{info.name}"))
    return sorted(mods, key=lambda m: m.NAME)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="deepaudio",
        description="Sound tracks for silent video: ambient sound (V2A), speech (TTS) and dubbing (V2S).",
    )
    parser.add_argument("--version", action="version", version=f"deepaudio {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an unexpected error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        p.add_argument("--max-duration", type=float, metavar="SECONDS",
                       help="longest input or output accepted (default 3600; tts --duration: 600)")
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from deepaudio.offline import go_offline

    go_offline()
    try:
        return _main(argv)
    except KeyboardInterrupt:  # also while torch & co. are imported by build_parser
        print("deepaudio: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, argument errors: a return code for in-process callers
        return exc.code if isinstance(exc.code, int) else EXIT_USER
    if not getattr(args, "_run", None):
        parser.print_help()
        return EXIT_USER
    debug = bool(getattr(args, "debug", False) or os.environ.get("DEEPAUDIO_DEBUG"))
    try:
        from deepaudio.cli.validate import validate_args

        validate_args(args)
        from deepaudio.io.limits import set_max_duration

        set_max_duration(getattr(args, "max_duration", None))  # None: the default (in-process calls reset it)
        code = int(args._run(args) or 0)
        if code == 0:
            from deepaudio.cli.common import flush_bundled_note

            flush_bundled_note()
        return code
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - the one place that classifies every failure
        if debug:
            import traceback

            traceback.print_exc()
        code, line = describe_failure(exc)
        print(f"deepaudio: error: {line}", file=sys.stderr)
        return code


def describe_failure(exc: BaseException) -> tuple[int, str]:
    """(exit code, one line) for a failure; expected failures get exit 2 and a message without a type name."""
    if isinstance(exc, DeepAudioError):
        return EXIT_USER, str(exc)
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return EXIT_USER, ("out of memory" + _detail(exc) +
                           " (shorten the input or --duration, lower --nfe/--steps, or use a machine with more memory)")
    if isinstance(exc, OSError):
        return EXIT_USER, _os_error(exc)
    if isinstance(exc, UnicodeError):
        return EXIT_USER, f"text cannot be decoded as UTF-8 ({_short(exc)}) (save the file as UTF-8)"
    mod = type(exc).__module__ or ""
    if mod.startswith(("soundfile", "av")):  # libsndfile / FFmpeg errors that escaped a reader or writer
        return EXIT_USER, f"audio/video library error: {_short(exc)}"
    return EXIT_BUG, (f"unexpected {type(exc).__name__}: {_short(exc)} (this is a bug; run again with --debug "
                      "for the traceback and report it)")


def _os_error(exc: OSError) -> str:
    import errno

    where = f"{exc.filename}: " if exc.filename else ""
    text = exc.strerror or _short(exc)
    hint = {errno.ENOSPC: "free some space or write elsewhere", errno.EDQUOT: "free some space or write elsewhere",
            errno.EACCES: "check the permissions", errno.EROFS: "write to a writable location",
            errno.EXDEV: "write to a path on the same filesystem", errno.ENOENT: "check the path"}.get(exc.errno)
    return f"{where}{text}" + (f" ({hint})" if hint else "")


def _detail(exc: BaseException) -> str:
    text = _short(exc)
    return f" ({text})" if text else ""


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


if __name__ == "__main__":
    sys.exit(main())
