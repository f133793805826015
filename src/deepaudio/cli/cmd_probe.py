"""``deepaudio probe MEDIA...``: print what a video or audio file holds, as JSON."""

from __future__ import annotations

import argparse
import json

NAME = "probe"
HELP = "print duration, fps, size, rotation and streams of media files as JSON"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("media", nargs="+", help="video or audio files")
    parser.add_argument("--require-video", action="store_true", help="fail on files without a video stream")


def run(args: argparse.Namespace) -> int:
    from deepaudio.io.video import probe_video

    infos = [probe_video(p, require_video=args.require_video).to_dict() for p in args.media]
    print(json.dumps(infos[0] if len(infos) == 1 else infos, indent=2))
    return 0
