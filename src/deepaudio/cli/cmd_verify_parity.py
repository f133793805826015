"""``deepaudio verify-parity FILE...``: compare our modules with official reference vectors."""

from __future__ import annotations

import argparse

NAME = "verify-parity"
HELP = "run official reference-vector files against our implementation"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", help="<case>.safetensors files (the .json sidecar sits beside)")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="max absolute error allowed (default 1e-4)")
    parser.add_argument("--device", default="cpu", help="run our modules on: cpu (default), cuda, cuda:1 ...")


def run(args: argparse.Namespace) -> int:
    import sys

    from deepaudio.cli.common import parse_device
    from deepaudio.convert.parity import run_case
    from deepaudio.errors import DeepAudioError

    device = parse_device(args.device)

    failed = unreadable = 0
    for path in args.files:
        try:
            results = run_case(path, tolerance=args.tolerance, device=device)
        except DeepAudioError as exc:  # a file we cannot use is a bad input (exit 2), not a parity failure
            print(f"deepaudio: error: {exc}", file=sys.stderr)
            unreadable += 1
            continue
        for r in results:
            status = "ok  " if r.ok else "FAIL"
            failed += 0 if r.ok else 1
            print(f"{status}  {r.case:28} {r.output:32} max_abs_err={r.max_abs_err:.3e}  shape={list(r.shape)}")
    if unreadable == len(args.files):
        return 2
    print(f"{'all outputs within' if not failed else f'{failed} failure(s); tolerance'} {args.tolerance:g}"
          + (f"; {unreadable} file(s) unreadable" if unreadable else ""))
    return 2 if unreadable else (1 if failed else 0)
