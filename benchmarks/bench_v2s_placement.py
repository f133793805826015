"""Where V2S puts each sentence: the placed start of every sentence after the first against the real one.

On the toy world's multi-sentence V2S clips (every utterance's start is in the clip's meta.json), the
timing contour (``--contour lips``: the cartoon face's mouth opening, what ``deepaudio dub --timing lips``
uses; ``speech``: the energy of the real speech track) is cropped of its quiet ends as the TTS pipeline
does, and the text's phonemes are laid over it by each placement of ``pipelines.tts``:

- ``align``: ``v2s.placement.contour_durations`` (sentence ends and word gaps into quiet runs);
- ``active``: the phonemes' own relative durations over the non-quiet frames;
- ``energy``: spread along the contour's cumulative energy.

Each placement is ``TTSPipeline.place``, what V2S itself runs. No model is run (only the duration table
and tokenizer), so this takes seconds per clip. Reported: median and mean |placed - real| sentence start
in ms and the share within 100 ms, per placement; with ``--picture``, the contour of the first clips with
the real and placed sentence starts.

    python benchmarks/bench_v2s_placement.py --v2s data/toyworld/manifests/v2s_test.csv \
        --out benchmarks/results/v2s_placement_test.json --picture benchmarks/results/v2s_placement_test.png
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

FRAME_MS = 256 / 24000 * 1000
PLACEMENTS = ("align", "active", "energy")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--v2s", type=Path, default=Path("data/toyworld/manifests/v2s_test.csv"))
    ap.add_argument("--model", type=Path, default=None, help="TTS folder with durations.json (default: bundled)")
    ap.add_argument("--contour", choices=("lips", "speech"), default="lips")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--picture", type=Path)
    args = ap.parse_args()

    import torch

    from deepaudio.dsp.energy import energy_contour
    from deepaudio.io.audio import load_audio
    from deepaudio.perception.mouth import mouth_contour
    from deepaudio.pipelines.tts import TTSPipeline
    from deepaudio.v2s.contour import CONTOUR_RATE, quiet_ends

    torch.set_num_threads(1)
    model = args.model or Path(__file__).resolve().parents[1] / "src/deepaudio/assets/default/tts"
    pipe = TTSPipeline.from_pretrained(model)
    base = args.v2s.parent
    rows = list(csv.DictReader(args.v2s.read_text(encoding="utf-8").splitlines()))
    items, shown = [], []
    for r in rows:
        video = (base / r["video"]).resolve()
        meta = json.loads((video.parent / "meta.json").read_text(encoding="utf-8"))
        utts = meta.get("speech") or []
        if len(utts) < 2:
            continue
        speech, sr = load_audio((base / r["speech"]).resolve(), mono=True)
        n = int(speech.shape[-1] / sr * CONTOUR_RATE)
        contour = energy_contour(speech, sr, target_len=n) if args.contour == "speech" else \
            mouth_contour(str(video), n_frames=n)
        lead, trail = quiet_ends(contour)
        window = contour[lead:n - trail].double().numpy()
        ids = pipe.tokenizer.encode(" ".join(u["text"] for u in utts))
        starts, k = [], 0
        for u in utts[:-1]:
            k += len(pipe.tokenizer.encode(u["text"])) + 1
            starts.append(k)
        if any(pipe._token_kinds([ids[s - 1]])[0] != "word" for s in starts):
            print(f"{video.parent.name}: utterance tokens do not join with one word gap; skipped", file=sys.stderr)
            continue
        truth = [u["start"] * 1000 for u in utts[1:]]
        item = {"clip": video.parent.name, "truth_ms": truth}
        for placement in PLACEMENTS:
            durs, _ = pipe.place(ids, torch.from_numpy(window), window.size, placement)
            ends = np.concatenate([[0], np.cumsum(durs)])
            placed = [(lead + ends[s]) * FRAME_MS for s in starts]
            item[placement] = {"placed_ms": placed, "err_ms": [abs(p - t) for p, t in zip(placed, truth)]}
        items.append(item)
        if len(shown) < 4:
            shown.append((item, contour.numpy()))
        print(f"{item['clip']}: " + " ".join(f"{p} {max(item[p]['err_ms']):.0f} ms" for p in PLACEMENTS),
              file=sys.stderr)
    summary = {"manifest": str(args.v2s), "contour": args.contour, "clips": len(items),
               "sentence_starts": sum(len(i["truth_ms"]) for i in items)}
    for placement in PLACEMENTS:
        errs = np.array([e for i in items for e in i[placement]["err_ms"]])
        summary[placement] = {"median_ms": float(np.median(errs)) if errs.size else None,
                              "mean_ms": float(errs.mean()) if errs.size else None,
                              "within_100ms": float((errs <= 100).mean()) if errs.size else None}
    print(json.dumps(summary, indent=1))
    if args.out:
        from deepaudio.io.atomic import atomic_path

        with atomic_path(args.out) as tmp:
            tmp.write_text(json.dumps({**summary, "items": items}, indent=1) + "\n", encoding="utf-8")
    if args.picture and shown:
        _picture(args.picture, shown)
    return 0


def _picture(path: Path, shown) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from deepaudio.io.atomic import atomic_path

    fig, axes = plt.subplots(len(shown), 1, figsize=(10, 2.2 * len(shown)), squeeze=False)
    colours = {"align": "tab:green", "active": "tab:orange", "energy": "tab:purple"}
    for ax, (item, contour) in zip(axes[:, 0], shown):
        t = np.arange(contour.size) * FRAME_MS / 1000
        ax.plot(t, contour, color="0.4", lw=1, label="contour")
        for k, s in enumerate(item["truth_ms"]):
            ax.axvline(s / 1000, color="k", lw=2, label="real start" if k == 0 else None)
        for p in PLACEMENTS:
            for k, s in enumerate(item[p]["placed_ms"]):
                ax.axvline(s / 1000, color=colours[p], ls="--", lw=1.5, label=p if k == 0 else None)
        ax.set_title(f"clip {item['clip']}: start of the next sentence", fontsize=9)
        ax.set_xlabel("s")
    axes[0, 0].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
