"""``deepaudio train STAGE ...``: one sub-command per training stage.

A stage is a module of ``deepaudio.train`` that defines ``add_arguments(parser)`` and ``main(args) -> int``
(e.g. ``train/tts.py`` -> ``deepaudio train tts``); ``STAGE`` overrides the name taken from the module
and ``HELP`` (else the docstring's first line) the help text. Adding a stage needs no change here. A
stage module that fails to import is listed and reports its import error when run, so one broken stage
never takes the others down. Multi-process runs: ``torchrun --nproc_per_node N $(which deepaudio) train ...``.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from types import SimpleNamespace

NAME = "train"
HELP = "train or fine-tune a stage (tts, v2a, ...) from a manifest; checkpoints resume exactly"


def stage_modules() -> dict:
    import deepaudio.train as pkg

    found = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        try:
            mod = importlib.import_module(f"deepaudio.train.{info.name}")
        except ImportError as exc:
            found[info.name] = _broken(info.name, exc)
            continue
        if callable(getattr(mod, "add_arguments", None)) and callable(getattr(mod, "main", None)):
            found[getattr(mod, "STAGE", info.name)] = mod
    return dict(sorted(found.items()))


def _help(mod, name: str) -> str:
    if getattr(mod, "HELP", None):
        return mod.HELP
    doc = (getattr(mod, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else name


def _broken(name: str, exc: ImportError) -> SimpleNamespace:
    """A stand-in for a stage module that failed to import."""
    def main(args):
        from deepaudio.errors import BackendUnavailable

        raise BackendUnavailable(f"training stage {name!r} cannot be imported ({exc})",
                                 hint="install the extras it needs or update deepaudio")

    return SimpleNamespace(HELP=f"(unavailable: {exc})", add_arguments=lambda p: None, main=main, __doc__="")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="stage", metavar="STAGE")
    for name, mod in stage_modules().items():
        text = _help(mod, name)
        p = sub.add_parser(name, help=text, description=text)
        mod.add_arguments(p)
        p.set_defaults(_stage_main=mod.main)


def run(args: argparse.Namespace) -> int:
    from deepaudio.errors import ConfigError

    fn = getattr(args, "_stage_main", None)
    if fn is None:
        raise ConfigError("no training stage given", hint=f"use: deepaudio train {{{','.join(stage_modules())}}} ...")
    args._v2a_loader = _load_v2a  # stages that generate V2A output (v2s) get the pipeline from the CLI layer
    return int(fn(args) or 0)


def _load_v2a(directory, device):
    from deepaudio.pipelines.v2a import V2APipeline

    return V2APipeline.from_pretrained(directory, device)
