"""``deepaudio eval``: score generated audio against references with the papers' metrics."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "eval"
HELP = "Score generated speech / sound (WER, SPK-SIM, EMO-SIM, MCD, lip sync, DNSMOS, FD/KL/IS, AV alignment)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from deepaudio.eval.runner import ALL_METRICS

    p.add_argument("--task", choices=("v2s", "tts", "v2a"), required=True, help="which paper table to fill")
    p.add_argument("--gen", required=True, help="folder of generated audio (NAME.wav/.flac/.mp3)")
    p.add_argument("--ref", help="folder of reference audio (+ NAME.txt transcripts), or a test list: V2C .lst, "
                                 "LibriSpeech-PC cross-sentence .lst, vggsound.csv")
    p.add_argument("--video", help="folder of videos NAME.mp4 (AV alignment, lip sync; mouth contour NAME.mouth.npy)")
    p.add_argument("--data-root", help="where the audio named in a test list lives (V2C, LibriSpeech test-clean, "
                                       "VGGSound reference audio)")
    p.add_argument("--metrics", help=f"comma-separated subset of: {','.join(ALL_METRICS)} (default: the task's)")
    p.add_argument("-o", "--out", required=True, help="output folder for items.csv, summary.json, report.md, plots")
    p.add_argument("--label", help="row name in the table (default: the --gen folder name)")
    p.add_argument("--asr-model", help="local faster-whisper (CTranslate2) folder, any size or language (paper: "
                                       "large-v3); default: packaged Whisper tiny.en")
    p.add_argument("--language", default="en", help="language of the speech for WER (default en, the papers'; "
                   "'auto': detected per clip by a multilingual --asr-model)")
    p.add_argument("--beam-size", type=int, default=5)
    p.add_argument("--wavlm-sv", help="local WavLM-base-sv folder for SPK-SIM (default: packaged Resemblyzer)")
    p.add_argument("--sim-o", help="ECAPA-TDNN + WavLM-large checkpoint for SIM-O")
    p.add_argument("--emotion-model", help="local wav2vec2 emotion model folder for EMO-SIM")
    p.add_argument("--panns", help="official PANNs Cnn14_16k checkpoint (.pth) for FD/KL/IS on PANNs")
    p.add_argument("--vggish", help="VGGish weights (torchvggish .pth) for FD_VGG")
    p.add_argument("--synchformer", help="official synchformer_state_dict.pth (both branches + offset head) for "
                                         "DeSync; pairs the generated audio with the --video clips")
    p.add_argument("--passt", help="PaSST checkpoint passt-s-f128-p16-s10-ap.476-swa.pt for FD/KL on PaSST")
    p.add_argument("--imagebind", help="imagebind_huge.pth for the IB-score (audio and vision encoders); pairs the "
                                       "generated audio with the --video clips")
    p.add_argument("--gen-features", help="av-benchmark feature cache folder of the generated clips")
    p.add_argument("--ref-features", help="av-benchmark feature cache folder of the real clips")
    p.add_argument("--mcd-alignment", choices=("fastdtw", "exact"), default="fastdtw")
    p.add_argument("--device", default=None, help="torch device for the neural backends (default: cuda if present)")


def run(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from deepaudio.distributed import Ranks
    from deepaudio.errors import ConfigError
    from deepaudio.eval.items import load_items
    from deepaudio.eval.report import write_report
    from deepaudio.eval.runner import ALL_METRICS, EvalOptions, run_eval

    metrics: tuple[str, ...] = ()
    if args.metrics:
        metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
        bad = [m for m in metrics if m not in ALL_METRICS]
        if bad:
            raise ConfigError(f"unknown metric(s) {', '.join(bad)}", hint=f"choose from {', '.join(ALL_METRICS)}")
    if bool(args.gen_features) != bool(args.ref_features):
        raise ConfigError("--gen-features and --ref-features go together",
                          hint="give the av-benchmark cache folders of both the generated and the real clips")
    from deepaudio.distributed import cuda_device_for_rank

    device = str(cuda_device_for_rank(args.device or ("cuda" if torch.cuda.is_available() else "cpu")))
    opts = EvalOptions(task=args.task, metrics=metrics, asr_model=args.asr_model, beam_size=args.beam_size,
                       asr_language=None if args.language == "auto" else args.language,
                       wavlm_sv=args.wavlm_sv, sim_o=args.sim_o, emotion_model=args.emotion_model,
                       panns=args.panns, vggish=args.vggish, synchformer=args.synchformer, passt=args.passt,
                       imagebind=args.imagebind, gen_features=args.gen_features, ref_features=args.ref_features,
                       device=device,
                       mcd_alignment=args.mcd_alignment)
    items = load_items(args.gen, args.ref, args.video, args.data_root)
    label = args.label or Path(args.gen).expanduser().resolve().name

    def progress(seq):
        return tqdm(seq, desc="eval", unit="item", disable=len(seq) < 2, file=sys.stderr)

    code = 0
    if Ranks.from_env().world > 1:  # torchrun: per-item metrics sharded over the ranks, rank 0 reports
        from deepaudio.cli.batch import eval_sharded

        res, code = eval_sharded(items, opts, Path(args.out), torch.device(device))
        if res is None:
            return code
    else:
        res = run_eval(items, opts, progress)
    summary = write_report(args.out, res, opts, label, len(items))
    for m in opts.chosen():
        v = summary.get(m)
        shown = "unavailable" if v is None else f"{v:.4f}"
        print(f"{m:>14}: {shown}  [{summary.get(f'{m}_backend') or summary.get(f'{m}_unavailable', '')}]")
    if res.problems and any(summary.get(m) is not None for m in opts.chosen()):
        print(f"{len(res.problems)} problem(s) listed in {Path(args.out) / 'report.md'}", file=sys.stderr)
    print(f"wrote {Path(args.out) / 'summary.json'}")
    if all(summary.get(m) is None for m in opts.chosen()):
        from deepaudio.errors import BackendUnavailable

        raise BackendUnavailable(f"nothing could be scored ({len(res.problems)} problem(s))",
                                 Path(args.out) / "report.md",
                                 "see the report for why; install the backends or give the reference files")
    return code
