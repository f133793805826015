"""``deepaudio convert NAME SOURCE... -o OUT``: official checkpoints -> deepaudio checkpoint folders."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "convert"
HELP = "convert official checkpoint files (F5-TTS, DeepAudio v2c, MMAudio, Vocos, BigVGAN) to our folders"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("converter", help="which layout: run 'deepaudio convert list' to see them")
    parser.add_argument("sources", nargs="*", type=Path, help="official file(s) or folder")
    parser.add_argument("-o", "--output", type=Path, help="checkpoint folder to write")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="converter option, e.g. --set preset=F5TTS_Base (repeatable)")


def run(args: argparse.Namespace) -> int:
    from deepaudio.convert.registry import converters, get_converter
    from deepaudio.errors import ConfigError

    if args.converter == "list":
        for c in converters().values():
            print(f"{c.name:16} {c.help}")
        return 0
    conv = get_converter(args.converter)
    if args.output is None:
        raise ConfigError("no output folder given", hint="add -o OUT_DIR")
    options = {}
    for item in args.set:
        if "=" not in item:
            raise ConfigError(f"bad --set {item!r}", hint="use KEY=VALUE")
        k, v = item.split("=", 1)
        options[k.strip()] = v.strip()
    if not args.sources and not options:
        raise ConfigError(f"converter {conv.name!r} needs source files (or parts named with --set)")
    out = conv.fn(list(args.sources), args.output, options)
    print(f"wrote {out}")
    return 0
