"""Run ``ThinkPipeline`` (whatever ``deepaudio`` is on PYTHONPATH) over clips exported as NAME.mp4 + NAME.wav.

    .venv/bin/python benchmarks/bench_think_realworld.py --images /tmp/skimg/skimage/data --split dev --seed 1 \
        --clips 6 --kinds noface,still,talk --export /tmp/clips
    git archive 1c2db57 src | tar -x -C /tmp/old
    OMP_NUM_THREADS=1 PYTHONPATH=/tmp/old/src .venv/bin/python benchmarks/bench_think_exported.py /tmp/clips \
        --out benchmarks/results/think_realworld_dev_seed1_before_faces.json

It compares an older version of the detector with the current one on the very same videos and tracks
(``results/think_realworld_dev_seed1_before_faces.json``: the code before the real-face change).
Per clip: whether voice-over was found, the mouth source, each speech segment's talking score and whether
the output still has VAD speech.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import soundfile as sf
import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    from deepaudio.pipelines.think import ThinkPipeline, ThinkSettings
    from deepaudio.think.evidence import speech_segments

    torch.set_num_threads(1)
    pipe, res = ThinkPipeline(), {}
    for video in sorted(args.folder.glob("*.mp4")):
        x, sr = sf.read(video.with_suffix(".wav"), dtype="float32")
        out, sr, trace = pipe(video, audio=(torch.from_numpy(x)[None], sr), settings=ThinkSettings(max_rounds=2))
        d = trace.find("detect")[0].measurements
        res[video.name] = dict(vo=d["voice_over"], src=d["evidence"]["mouth_source"],
                               talking=[round(s["talking"], 2) for s in d["evidence"]["segments"]],
                               speech_after=bool(speech_segments(out, sr)))
        print(video.name, res[video.name], flush=True)
    args.out.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
