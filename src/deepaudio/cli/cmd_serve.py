"""``deepaudio serve``: the web app and HTTP API (Gradio) on one model load shared by all requests."""

from __future__ import annotations

import argparse
from pathlib import Path

from deepaudio.cli.common import add_device_arguments

NAME = "serve"
HELP = "web app and HTTP API: sound for a video, speech, dubbing, instructions, voice-over removal"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", type=Path, help="DeepAudio pipeline folder (default: the bundled default)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine "
                        "only; 0.0.0.0 opens it to the network)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--concurrency", type=int, default=1, help="requests run at once; the rest queue (default 1)")
    parser.add_argument("--max-upload-mb", type=float, default=200.0, help="largest upload (default 200 MB)")
    parser.add_argument("--max-video-s", type=float, default=120.0, help="longest video accepted (default 120 s)")
    parser.add_argument("--workdir", type=Path, help="uploads, results and examples (default: a new temporary "
                        "folder, removed on exit)")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's own choice)")
    add_device_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import os
    import shutil
    import signal
    import tempfile

    from deepaudio.cli.common import load_deepaudio
    from deepaudio.errors import BackendUnavailable, ConfigError

    for name in ("port", "concurrency", "max_upload_mb", "max_video_s"):
        if getattr(args, name) <= 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be at least 1, got {args.threads}")
    _check_port(args.host, args.port)  # before the model load, not a traceback from the web server after it
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing leaves the machine
    try:
        import gradio  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailable("the web app needs the gradio package",
                                 hint="pip install 'deepaudio[demo]' (scripts/setup.sh installs it)") from exc
    from deepaudio.serve.app import build_app, launch
    from deepaudio.serve.examples import make_examples
    from deepaudio.serve.handlers import Limits, Session

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="deepaudio-serve-"))
    print(f"deepaudio serve: loading {args.model or 'the bundled default'} ...", flush=True)
    session = Session(load_deepaudio(args), root, Limits(args.max_upload_mb, args.max_video_s),
                      workers=args.concurrency)
    session.model_dir = args.model  # named in the results' sidecars (None: the bundled default)
    print("deepaudio serve: making the examples ...", flush=True)
    examples = make_examples(session.examples)
    signal.signal(signal.SIGTERM, _stop)  # a service stop closes the server like Ctrl-C and removes the folder
    try:
        launch(build_app(session, examples), session, args.host, args.port, args.concurrency)
    finally:
        session.executor.shutdown(wait=False, cancel_futures=True)
        if args.workdir is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


def _check_port(host: str, port: int) -> None:
    import socket

    from deepaudio.errors import ConfigError

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
            sock.bind((host, port))
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror or exc})",
                          hint="another server may be using it; pass --port N or another --host") from exc


def _stop(*_) -> None:
    raise KeyboardInterrupt  # Gradio's main loop closes the server on it and returns
