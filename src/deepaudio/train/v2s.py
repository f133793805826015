"""Stage 4: fine-tune a TTS checkpoint into the DeepAudio V2S model (``deepaudio train v2s``).

Step 1 caches, per clip of a video manifest (``deepaudio.data.v2s``), the speech mel and the energy
contour that conditions it: by default the contour of the V2A output for the clip's video (generated
once with a fixed seed by ``--v2a``, or read from the manifest's ``ambience`` column), as DeepAudio-V1
trains on the V2A output and not on the ground-truth speech (its reference code). Step 2 converts the
``--init`` TTS checkpoint into one with ``energy_input=True`` (a zero-initialised Linear(1 -> dim), all
other weights kept, so step 0 equals the TTS model) and fine-tunes it with the F5-TTS objective
(``models.tts.objective``: random 70-100 % span infilling, the contour covering prompt and target part
alike) on the shared loop: AdamW lr 1e-5, 300 warm-up updates then linear decay, 3 200 frames per
process, grad clip 1, EMA, exact resume. Condition dropout follows ``--drop-mode``:

- ``reference`` (default; the released code): audio 0.3, audio+text 0.2, energy never dropped;
- ``paper`` (DeepAudio-V1 text): each condition, energy included, dropped independently with p = 0.25.

Either way inference keeps the energy in the unconditional CFG branch. The export ``OUT/model`` is a
``tts_dit`` folder with vocab.txt: the ``v2s`` part of a DeepAudio pipeline folder; with ``--v2a`` an
``OUT/pipeline`` folder naming both is written as well (``DeepAudio.from_pretrained(OUT/pipeline)``).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

STAGE = "v2s"
HELP = "fine-tune a TTS checkpoint into the V2S model (energy contour of the V2A output; DeepAudio-V1 stage 4)"

DROP_MODES = {  # TTSFlowMatching keyword arguments
    "reference": dict(audio_drop=0.3, cond_drop=0.2, text_drop=0.0, energy_drop=0.0),
    "paper": dict(audio_drop=0.25, cond_drop=0.0, text_drop=0.25, energy_drop=0.25),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--init", type=Path, required=True, help="deepaudio TTS checkpoint folder (tts_dit + vocab.txt)")
    p.add_argument("--data", type=Path, required=True, help="V2S manifest CSV: video,text,speech[,speaker,"
                   "prompt_audio,prompt_text,ambience]")
    p.add_argument("--out", type=Path, required=True, help="run folder: cache, checkpoints, logs, exported model/")
    p.add_argument("--v2a", type=Path, help="V2A pipeline folder that makes each clip's ambience (energy source v2a)")
    p.add_argument("--energy-source", choices=("v2a", "speech", "mouth"), default="v2a",
                   help="contour from the V2A output (the paper), the ground-truth speech, or the mouth "
                        "opening (needs deepaudio.perception.mouth)")
    p.add_argument("--drop-mode", choices=tuple(DROP_MODES), default="reference",
                   help="reference: audio 0.3 / text 0.2, energy never dropped; paper: 25%% each incl. energy")
    p.add_argument("--v2a-steps", type=int, default=25, help="Euler steps of the V2A model (default 25)")
    p.add_argument("--val", type=Path, help="held-out V2S manifest for the validation loss")
    p.add_argument("--steps", type=int, default=1000, help="optimizer updates (default 1000)")
    p.add_argument("--lr", type=float, help="peak learning rate (default 1e-5)")
    p.add_argument("--warmup", type=int, help="warm-up updates (default min(300, steps/10))")
    p.add_argument("--final-lr-ratio", type=float, default=0.0, help="lr at the last step / peak (1: no decay)")
    p.add_argument("--batch-frames", type=int, default=3200, help="padded mel frames per batch per process")
    p.add_argument("--max-samples", type=int, default=64, help="clips per batch at most")
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--grad-clip", type=float, default=1.0)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32", help="bf16 autocast (weights stay fp32)")
    p.add_argument("--ema-beta", type=float, default=0.9999)
    p.add_argument("--ema-update-after", type=int, default=100)
    p.add_argument("--ema-update-every", type=int, default=10)
    p.add_argument("--save-every", type=int, default=500)
    p.add_argument("--keep-checkpoints", type=int, default=2)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--val-every", type=int, default=0, help="validation every N updates (0: at the end only)")
    p.add_argument("--seed", type=int, default=0, help="V2A seed, data order, initialisation and all random draws")
    p.add_argument("--cache", type=Path, help="feature cache folder (default OUT/v2s_cache)")
    p.add_argument("--export-dtype", choices=("fp32", "fp16"), default="fp32", help="dtype of the exported EMA model")
    p.add_argument("--device", choices=("auto", "cpu"), default="auto")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")


def main(args: argparse.Namespace) -> int:
    import torch

    from deepaudio.data.v2s import read_v2s_manifest
    from deepaudio.errors import ConfigError
    from deepaudio.io.atomic import atomic_path
    from deepaudio.models.tts.objective import TTSFlowMatching
    from deepaudio.train.loop import make_accelerator, train
    from deepaudio.train.state import refuse_existing_run
    from deepaudio.train.tts import train_config

    refuse_existing_run(args.out, args.resume)
    if args.v2a is not None and not (args.v2a / "config.json").is_file():
        raise ConfigError("V2A pipeline folder not found (no config.json)", args.v2a,
                          "give the folder written by 'deepaudio train v2a' or 'deepaudio convert'")
    rows = read_v2s_manifest(args.data)
    val_rows = read_v2s_manifest(args.val) if args.val else None
    cfg = train_config(args)
    acc = make_accelerator(cfg)
    torch.manual_seed(args.seed)
    net, vocab = energy_network(args.init)
    if acc.is_main_process:
        args.out.mkdir(parents=True, exist_ok=True)
        with atomic_path(args.out / "vocab.txt") as tmp:
            tmp.write_text(vocab.to_text(), encoding="utf-8")
    train_set, val = _batches(args, rows, val_rows, vocab, acc)
    model = TTSFlowMatching(net, **DROP_MODES[args.drop_mode]).train()
    export_dtype = torch.float16 if args.export_dtype == "fp16" else None

    def export(ema_module, folder: Path) -> None:
        meta = {"stage": STAGE, "steps": cfg.steps, "init": str(args.init), "data": str(args.data), "weights": "ema",
                "energy_source": args.energy_source, "drop_mode": args.drop_mode}
        ema_module.net.save_pretrained(folder, meta=meta, extra_files={"vocab.txt": vocab.to_text()},
                                       dtype=export_dtype)

    info = _run_info(args, len(rows), len(val_rows or []), sum(p.numel() for p in net.parameters()))
    result = train(model, train_set, cfg, args.out, val=val, export=export, resume=args.resume, run_info=info,
                   accelerator=acc)
    if acc.is_main_process:
        if args.v2a is not None:
            write_pipeline(args.out / "pipeline", args.v2a, args.out / "model")
        last = result.losses[-1][1] if result.losses else float("nan")
        print(f"trained {result.step} steps, last loss {last:.4f}; V2S model in {args.out / 'model'}", file=sys.stderr)
    return 0


def energy_network(init: Path):
    """(DiT with the energy layer, Vocab) from a TTS checkpoint folder: a plain TTS checkpoint gains a
    zero-initialised ``input_embed.proj_energy`` with every other weight loaded strictly; a V2S checkpoint
    loads as it is (fine-tuning further)."""
    from deepaudio.train.tts import build_network

    ns = argparse.Namespace(init=Path(init), config=None, energy=True, vocab=None, out=None, resume=False)
    return build_network(ns, [])


def write_pipeline(folder: Path, v2a: Path, v2s: Path) -> None:
    """A ``deepaudio_pipeline`` folder naming the V2A part and the new model as both TTS and V2S."""
    import os

    from deepaudio.checkpoint import write_config

    folder.mkdir(parents=True, exist_ok=True)
    parts = {name: os.path.relpath(Path(p).resolve(), folder.resolve()) for name, p in
             (("v2a", v2a), ("tts", v2s), ("v2s", v2s))}
    write_config(folder, "deepaudio_pipeline", parts, meta={"stage": STAGE})


def _batches(args: argparse.Namespace, rows, val_rows, vocab, acc):
    """(training batches, validation batches or None); every rank fills its share of the cache first."""
    from deepaudio.data.v2s import V2SDataset
    from deepaudio.text import Tokenizer
    from deepaudio.train.batching import FixedBatches, FrameBudgetBatcher
    from deepaudio.train.tts import ManifestBatches, encode_all

    tok = Tokenizer(vocab, mode="auto")
    cache = args.cache or args.out / "v2s_cache"
    sets = {}
    for name, rws in (("train", rows), ("val", val_rows)):
        if rws is None:
            continue
        ds = V2SDataset(rws, cache, args.energy_source, args.v2a, args.seed, args.v2a_steps, device=acc.device,
                        v2a_loader=getattr(args, "_v2a_loader", None))
        ds.prepare(acc.process_index, acc.num_processes, _progress(name, len(rws), acc.is_main_process))
        acc.wait_for_everyone()
        shuffle = name == "train"
        batcher = FrameBudgetBatcher.build(ds.lengths(), args.batch_frames, args.max_samples, args.seed, shuffle)
        if batcher.skipped() and acc.is_main_process:
            print(f"{name}: skipping {batcher.skipped()} clip(s) shorter than 0.3 s, longer than 30 s or longer "
                  f"than --batch-frames {args.batch_frames}", file=sys.stderr)
        if not shuffle:  # validation: the same batches every time
            batcher = FixedBatches(tuple(tuple(b) for b in batcher.epoch_batches(0)))
        sets[name] = ManifestBatches(ds, encode_all(tok, [r.text for r in rws], name), batcher)
    return sets["train"], sets.get("val")


def _progress(name: str, n: int, main: bool):
    def report(i: int) -> None:
        if main and (i + 1) % max(1, n // 10) == 0:
            print(f"{name}: cached {i + 1}/{n} clips", file=sys.stderr)

    return report


def _run_info(args: argparse.Namespace, n_train: int, n_val: int, n_params: int) -> dict:
    options = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
               if not k.startswith("_") and k not in ("command", "stage")}
    argv = sys.argv[1:]
    command = shlex.join(["deepaudio", *argv]) if argv[:2] == ["train", STAGE] else "deepaudio.train.v2s.main(args)"
    return {"stage": STAGE, "command": command, "options": options, "config": "init", "init": str(args.init),
            "energy_source": args.energy_source, "drop_mode": args.drop_mode, "train_clips": n_train,
            "val_clips": n_val, "parameters": n_params}
