"""Entry point of the ``deepaudio`` console script.

Subcommands are discovered from the modules ``deepaudio.cli.cmd_*``; each defines ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``. Errors a user can fix (``DeepAudioError``) are
printed as one line and exit with code 2; Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from deepaudio import __version__
from deepaudio.errors import DeepAudioError


def _command_modules():
    import deepaudio.cli as pkg

    mods = []
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("cmd_"):
            mods.append(importlib.import_module(f"deepaudio.cli.{info.name}"))
    return sorted(mods, key=lambda m: m.NAME)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deepaudio",
        description="Sound tracks for silent video: ambient sound (V2A), speech (TTS) and dubbing (V2S).",
    )
    parser.add_argument("--version", action="version", version=f"deepaudio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except DeepAudioError as exc:
        print(f"deepaudio: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("deepaudio: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
