"""``deepaudio demo``: toy-world clips through V2A, TTS, V2S and an instruction-routed dub, with pictures."""

from __future__ import annotations

import argparse
from pathlib import Path

from deepaudio.cli.common import add_device_arguments

NAME = "demo"
HELP = "run a few toy-world clips through every task; writes MP4s, WAVs and PNGs (about a minute on CPU)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("deepaudio-demo"),
                        help="output folder (default ./deepaudio-demo)")
    parser.add_argument("--model", type=Path, help="DeepAudio pipeline folder (default: the bundled default)")
    parser.add_argument("--n", type=int, default=1, help="groups of (bouncing, talking, voice-over) clips (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="toy-world and generation seed (default 0)")
    parser.add_argument("--steps", type=int, default=8, help="V2A Euler steps (default 8)")
    parser.add_argument("--nfe", type=int, default=8, help="TTS/V2S ODE steps, EPSS schedule (default 8)")
    parser.add_argument("--cache", type=Path,
                        help="toy-world speech cache (default ~/.cache/deepaudio/toyworld-speech)")
    parser.add_argument("--speakers", nargs="+", metavar="ID",
                        help="toy-world voices to use (default: every installed one; see deepaudio toyworld)")
    parser.add_argument("--timing", choices=("v2a", "lips", "mix"), default="lips",
                        help="V2S timing contour: V2A energy (the paper), mouth opening (default here: the toy "
                             "talking faces sit in quiet scenes, so the ambience's energy carries little timing), "
                             "or their mean")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for torch (default 1: the small models gain little from more, and on a "
                             "busy machine 2 threads ran the demo 7x slower than 1)")
    add_device_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from deepaudio.cli.common import default_model_dir, resolve_device
    from deepaudio.errors import ConfigError
    from deepaudio.pipelines.demo import DemoSettings, run_demo

    for name in ("n", "steps", "nfe", "threads"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name} must be at least 1, got {getattr(args, name)}")
    import torch

    torch.set_num_threads(args.threads)
    from deepaudio.assets import model_label

    model = args.model if args.model is not None else default_model_dir("pipeline")
    device, dtype = resolve_device(args)
    speakers = tuple(k for arg in args.speakers or () for k in arg.split(",") if k)
    settings = DemoSettings(n=args.n, seed=args.seed, v2a_steps=args.steps, tts_nfe=args.nfe, speakers=speakers,
                            timing=args.timing)
    label = model_label(model)
    run_demo(model, args.out, settings, device, dtype, model_name=label, cache_dir=args.cache,
             log=lambda line: print(line, flush=True))
    return 0
