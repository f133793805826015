"""Stage 2: train or fine-tune the F5-TTS DiT on a manifest of clips (``deepaudio train tts``).

The common case is fine-tuning a converted official checkpoint (``--init``; its config and vocab.txt
come with it). Without ``--init`` a preset is trained from scratch with a character vocabulary built
from the training texts (the reference's "char" tokenizer for custom data). ``--energy`` trains the
DeepAudio V2S variant: the energy input layer is added (zero-initialised, so an F5 checkpoint still
loads) and fed the contour of each clip's ``energy_path`` audio.
Defaults follow the DeepAudio-V1 V2S fine-tuning recipe: AdamW, warm-up then linear decay, 3 200 frames per
process, grad clip 1, EMA; lr 1e-5 when fine-tuning (DeepAudio V2S) and 7.5e-5 from scratch (F5-TTS Base).
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
import warnings
from pathlib import Path

STAGE = "tts"
HELP = "train or fine-tune the TTS DiT (F5-TTS; with --energy the DeepAudio V2S variant)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, nargs="+", required=True,
                   help="training manifest CSV(s): audio_path,text[,speaker]; several are joined (e.g. the toy world's "
                        "and a speech corpus, deepaudio speech-corpus)")
    p.add_argument("--out", type=Path, required=True, help="run folder: checkpoints, logs, exported model/")
    p.add_argument("--config", help="TTS preset to train from scratch (e.g. tiny, F5TTS_Base); default tiny")
    p.add_argument("--init", type=Path, help="deepaudio TTS checkpoint folder to fine-tune (deepaudio convert f5tts)")
    p.add_argument("--val", type=Path, help="held-out manifest for the validation loss")
    p.add_argument("--vocab", type=Path, help="vocab.txt for a model trained from scratch (default: from the texts)")
    p.add_argument("--energy", action="store_true", help="V2S: condition on the contour of each clip's energy_path")
    p.add_argument("--energy-source", choices=("path", "self"), default="path",
                   help="--energy: the contour of each row's energy_path audio (the V2A output; default) or of the "
                        "clip's own speech (a plain TTS manifest; the V2S contour then stands for the speech's timing)")
    p.add_argument("--energy-fps", type=float, default=0.0, metavar="F",
                   help="--energy: the contour as a video of F frames/s shows it (mean |x| per video frame, "
                        "interpolated; the shape of a lip contour) instead of the 93.75/s energy; 0: off")
    p.add_argument("--energy-drop", type=float, default=0.0, metavar="P",
                   help="--energy: probability of zeroing a batch's contour, so the model also speaks without one "
                        "(one checkpoint then serves TTS and V2S); default 0, as the reference")
    p.add_argument("--durations", action="store_true",
                   help="phoneme input with per-phoneme durations: aligns the training audio (flat-start Viterbi), "
                        "feeds each frame its phoneme and exports durations.json for inference")
    p.add_argument("--align-rounds", type=int, default=10, help="aligner re-estimation rounds (--durations)")
    p.add_argument("--alignments", type=Path, help="--durations: an earlier run's alignments.json of the same "
                   "--data and --val, used instead of aligning again (which takes ~40 min for 6 500 clips on 2 cores)")
    p.add_argument("--steps", type=int, default=1000, help="optimizer updates (default 1000)")
    p.add_argument("--lr", type=float, help="peak learning rate (default 1e-5 with --init, else 7.5e-5)")
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
    p.add_argument("--audio-drop", type=float, default=0.3, help="probability of dropping the prompt audio")
    p.add_argument("--cond-drop", type=float, default=0.2, help="probability of dropping prompt audio and text")
    p.add_argument("--save-every", type=int, default=500)
    p.add_argument("--keep-checkpoints", type=int, default=2)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--val-every", type=int, default=0, help="validation every N updates (0: at the end only)")
    p.add_argument("--seed", type=int, default=0, help="data order, initialisation and all random draws")
    p.add_argument("--mel-cache", type=Path, help="mel cache folder (default OUT/mel_cache)")
    p.add_argument("--no-mel-cache", action="store_true", help="compute mels on the fly")
    p.add_argument("--export-dtype", choices=("fp32", "fp16"), default="fp32", help="dtype of the exported EMA model")
    p.add_argument("--device", choices=("auto", "cpu"), default="auto")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")


def main(args: argparse.Namespace) -> int:
    import torch

    from deepaudio.data.manifest import read_manifest
    from deepaudio.io.atomic import atomic_path
    from deepaudio.models.tts.objective import TTSFlowMatching
    from deepaudio.train.loop import make_accelerator, train
    from deepaudio.train.state import refuse_existing_run

    refuse_existing_run(args.out, args.resume)
    check_energy_options(args)
    if getattr(args, "alignments", None) is not None:
        from deepaudio.errors import ConfigError, InputError

        if not args.durations:
            raise ConfigError("--alignments needs --durations", hint="add --durations or drop --alignments")
        if not args.alignments.is_file():
            raise InputError("no such alignments file", args.alignments, "give an earlier run's alignments.json")
    rows = [r for path in args.data for r in read_manifest(path)]
    val_rows = read_manifest(args.val) if args.val else None
    cfg = train_config(args)
    acc = make_accelerator(cfg)
    torch.manual_seed(args.seed)
    net, vocab = build_network(args, rows)
    if acc.is_main_process:
        args.out.mkdir(parents=True, exist_ok=True)
        with atomic_path(args.out / "vocab.txt") as tmp:
            tmp.write_text(vocab.to_text(), encoding="utf-8")
    train_set, val = _batches(args, rows, val_rows, vocab, acc)
    table = _align(args, train_set, val, acc) if args.durations else None
    model = TTSFlowMatching(net, audio_drop=args.audio_drop, cond_drop=args.cond_drop,
                            energy_drop=args.energy_drop if args.energy else 0.0).train()
    export_dtype = torch.float16 if args.export_dtype == "fp16" else None

    def export(ema_module, folder: Path) -> None:
        meta = {"stage": STAGE, "steps": cfg.steps, "init": str(args.init) if args.init else None,
                "data": " ".join(str(p) for p in args.data), "weights": "ema"}
        extra = {"vocab.txt": vocab.to_text()}
        if table is not None:
            from deepaudio.models.tts.durations import FILE

            extra[FILE] = table.to_text()
        ema_module.net.save_pretrained(folder, meta=meta, extra_files=extra, dtype=export_dtype)

    info = _run_info(args, len(rows), len(val_rows or []), sum(p.numel() for p in net.parameters()))
    result = train(model, train_set, cfg, args.out, val=val, export=export, resume=args.resume, run_info=info,
                   accelerator=acc)
    if acc.is_main_process:
        last = result.losses[-1][1] if result.losses else float("nan")
        print(f"trained {result.step} steps, last loss {last:.4f}; EMA model in {args.out / 'model'}", file=sys.stderr)
    return 0


def check_energy_options(args: argparse.Namespace) -> None:
    """Refuse energy settings that would be silently ignored or are out of range."""
    from deepaudio.errors import ConfigError

    given = (("--energy-source self", args.energy_source == "self"), ("--energy-fps", bool(args.energy_fps)),
             ("--energy-drop", bool(args.energy_drop)))
    used = [name for name, on in given if on]
    if used and not args.energy:
        raise ConfigError(f"{used[0]} given without --energy", hint="add --energy to train the V2S energy input")
    if not 0.0 <= args.energy_drop <= 1.0:
        raise ConfigError(f"--energy-drop {args.energy_drop} is not a probability", hint="give a value in [0, 1]")
    if args.energy_fps < 0:
        raise ConfigError(f"--energy-fps {args.energy_fps} is negative", hint="give a video frame rate, or 0 for off")


def train_config(args: argparse.Namespace):
    """The loop settings from the command line, with the DeepAudio-V1 / F5-TTS defaults filled in."""
    from deepaudio.train.ema import EMAConfig
    from deepaudio.train.loop import TrainConfig

    return TrainConfig(
        steps=args.steps, lr=args.lr if args.lr is not None else (1e-5 if args.init else 7.5e-5),
        warmup=args.warmup if args.warmup is not None else min(300, args.steps // 10),
        weight_decay=args.weight_decay, final_lr_ratio=args.final_lr_ratio, grad_clip=args.grad_clip,
        grad_accum=args.grad_accum, precision=args.precision, seed=args.seed,
        ema=EMAConfig(beta=args.ema_beta, update_after=args.ema_update_after, update_every=args.ema_update_every),
        save_every=args.save_every, keep_checkpoints=args.keep_checkpoints, log_every=args.log_every,
        val_every=args.val_every, device=args.device)


def _batches(args: argparse.Namespace, rows, val_rows, vocab, acc):
    """(training batches, validation batches or None); every rank fills its share of the mel cache first."""
    from deepaudio.data.tts import TTSDataset
    from deepaudio.train.batching import FixedBatches, FrameBudgetBatcher

    tok = _tokenizer(vocab)
    cache = None if args.no_mel_cache else (args.mel_cache or args.out / "mel_cache")
    sets = {}
    for name, rws in (("train", rows), ("val", val_rows)):
        if rws is None:
            continue
        ds = TTSDataset(rws, cache_dir=cache, energy=args.energy, energy_self=args.energy_source == "self",
                        energy_fps=args.energy_fps or None)
        ds.prepare(acc.process_index, acc.num_processes)
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


def _align(args: argparse.Namespace, train_set: ManifestBatches, val: ManifestBatches | None, acc):
    """Per-phoneme durations of every training (and validation) clip, cached in OUT/alignments.json; the
    duration table fitted on them. Clips the aligner cannot place (fewer frames than phonemes) are skipped."""
    import json

    from deepaudio.io.atomic import atomic_path
    from deepaudio.models.tts.durations import DurationTable, align_corpus

    cache = args.out / "alignments.json"
    sets = {"train": train_set, "val": val}
    keys = {name: [f"{r.audio_path}|{r.text}" for r in bs.ds.rows] for name, bs in sets.items() if bs is not None}
    doc = {}
    if cache.is_file():
        doc = json.loads(cache.read_text(encoding="utf-8"))
    elif getattr(args, "alignments", None) is not None:
        doc = _given_alignments(args.alignments, keys)
        if acc.is_main_process:
            with atomic_path(cache) as tmp:
                tmp.write_text(json.dumps(doc), encoding="utf-8")
    if any(doc.get(name, {}).get("keys") != k for name, k in keys.items()):
        doc = {}
        say = (lambda msg: print(msg, file=sys.stderr)) if acc.is_main_process else None
        model = None
        for name, bs in sets.items():
            if bs is None:
                continue
            mels = [bs.ds[i]["mel"] for i in range(len(bs.ds))]
            speakers = [r.speaker or "" for r in bs.ds.rows]
            durs, fitted = align_corpus(mels, bs.ids, speakers, {0}, rounds=args.align_rounds, means=model,
                                        progress=say)
            model = model or fitted
            doc[name] = {"keys": keys[name], "durations": [None if d is None else d.tolist() for d in durs]}
        if acc.is_main_process:
            with atomic_path(cache) as tmp:
                tmp.write_text(json.dumps(doc), encoding="utf-8")
    for name, bs in sets.items():
        if bs is not None:
            bs.set_durations(doc[name]["durations"])
    aligned = [(i, d) for i, d in zip(train_set.ids, doc["train"]["durations"]) if d is not None]
    return DurationTable.fit([i for i, _ in aligned], [d for _, d in aligned])


def _given_alignments(path: Path, keys: dict[str, list[str]]) -> dict:
    """The alignments document of ``path`` (an earlier run's alignments.json), checked to list exactly the clips
    of this run (``keys``: per set, ``audio_path|text`` in order)."""
    import json

    from deepaudio.errors import InputError

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read the alignments ({exc.strerror})", path) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"not an alignments.json ({exc})", path) from exc
    if not isinstance(doc, dict):
        raise InputError("not an alignments.json (no object at the top)", path)
    for name, k in keys.items():
        entry = doc.get(name)
        if not isinstance(entry, dict) or entry.get("keys") != k:
            theirs = entry.get("keys") if isinstance(entry, dict) and isinstance(entry.get("keys"), list) else []
            same = sum(a == b for a, b in zip(theirs, k))
            raise InputError(f"the alignments were made for other {name} clips ({len(theirs)} there, {len(k)} here, "
                             f"{same} the same)", path,
                             "give the alignments.json of a run on the same --data and --val, or drop --alignments")
        durs = entry.get("durations")
        if not isinstance(durs, list) or len(durs) != len(k) or not all(
                d is None or (isinstance(d, list) and all(isinstance(x, int) and x >= 0 for x in d)) for d in durs):
            raise InputError(f"not an alignments.json (the {name} durations are not one list of frame counts per clip)",
                             path)
    return {name: doc[name] for name in keys}


def _run_info(args: argparse.Namespace, n_train: int, n_val: int, n_params: int) -> dict:
    options = {k: (str(v) if isinstance(v, Path) else [str(x) for x in v] if k == "data" else v)
               for k, v in vars(args).items() if not k.startswith("_") and k not in ("command", "stage")}
    argv = sys.argv[1:]
    command = shlex.join(["deepaudio", *argv]) if argv[:2] == ["train", STAGE] else "deepaudio.train.tts.main(args)"
    return {"stage": STAGE, "command": command, "options": options,
            "config": "init" if args.init else (args.config or "tiny"), "init": str(args.init) if args.init else None,
            "train_clips": n_train, "val_clips": n_val, "parameters": n_params}


class ManifestBatches:
    """Batches of a TTS dataset for the loop: keys are index lists, ``load`` pads them (``collate_tts``)."""

    def __init__(self, ds, ids: list[list[int]], batcher):
        self.ds, self.ids, self.batcher = ds, ids, batcher
        self.durations: list | None = None

    def set_durations(self, durations: list) -> None:
        """Phoneme input: each clip's text becomes its frame-level ids; unaligned clips (None) are left out."""
        self.durations = durations
        drop = {i for i, d in enumerate(durations) if d is None}
        if drop:
            print(f"{len(drop)} clip(s) could not be aligned and are left out", file=sys.stderr)
        self.batcher = _Without(self.batcher, drop)

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        return self.batcher.epoch_batches(epoch)

    def load(self, key: list[int]) -> dict:
        from deepaudio.models.tts.objective import collate_tts

        items = [self.ds[i] for i in key]
        if self.durations is None:
            return collate_tts(items, [self.ids[i] for i in key])
        from deepaudio.models.tts.durations import expand

        return collate_tts(items, [expand(self.ids[i], self.durations[i]).tolist() for i in key])


class _Without:
    """A batcher with some clips removed from its batches (empty batches dropped)."""

    def __init__(self, batcher, drop: set[int]):
        self.batcher, self.drop = batcher, drop

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        out = [[i for i in b if i not in self.drop] for b in self.batcher.epoch_batches(epoch)]
        return [b for b in out if b]


def build_network(args: argparse.Namespace, rows):
    """(DiT in train mode, Vocab): from ``--init`` (optionally adding the energy layer) or a preset."""
    from deepaudio.checkpoint import load_state_strict, read_checkpoint
    from deepaudio.config import from_dict
    from deepaudio.errors import CheckpointError, ConfigError
    from deepaudio.models.tts.config import TTS_PRESETS, DiTConfig
    from deepaudio.models.tts.dit import DiT
    from deepaudio.text import Vocab

    if args.init is not None:
        if args.config:
            raise ConfigError("--config and --init both given", hint="the config comes with the --init checkpoint")
        doc, state = read_checkpoint(args.init)
        if doc.get("kind") != DiT.kind:
            raise CheckpointError(f"checkpoint holds a {doc.get('kind')!r} model, expected {DiT.kind!r}", args.init)
        config = from_dict(DiTConfig, doc["config"])
        if args.energy and not config.energy_input:
            config = dataclasses.replace(config, energy_input=True)  # new zero-initialised layer (V2S)
            net = DiT(config)
            for k in ("input_embed.proj_energy.weight", "input_embed.proj_energy.bias"):
                state.setdefault(k, net.state_dict()[k])
        else:
            net = DiT(config)
        load_state_strict(net, state, args.init)
        vocab = Vocab.load(args.init / "vocab.txt")
    else:
        config = TTS_PRESETS.get(args.config or "tiny")
        vocab = Vocab.load(args.vocab) if args.vocab else vocab_from_texts([r.text for r in rows], args.durations)
        resumed_vocab = args.out / "vocab.txt"
        if args.resume and resumed_vocab.is_file() and not args.vocab:
            vocab = Vocab.load(resumed_vocab)  # the run's own vocabulary, whatever the manifest says now
        config = dataclasses.replace(config, text_num_embeds=len(vocab),
                                     energy_input=config.energy_input or args.energy)
        if args.durations:  # the text already has one token per frame
            config = dataclasses.replace(config, text_average_upsampling=False)
        net = DiT(config)
    if len(vocab) > net.config.text_num_embeds:
        raise ConfigError(f"vocab has {len(vocab)} tokens, the model embeds {net.config.text_num_embeds}", args.init)
    return net.train(), vocab


def vocab_from_texts(texts: list[str], phonemes: bool = False):
    """Character (or phoneme) vocabulary of the (normalised) texts, space first (id 0 as in the released
    vocab). The phoneme vocabulary always holds every ARPAbet phoneme and letter, so any English text
    can be read, whatever the training texts were."""
    from deepaudio.text import Vocab
    from deepaudio.text.normalize import normalize_text

    if phonemes:
        from deepaudio.text.phonemes import ARPABET, PUNCTUATION, phonemize

        seen = {p for t in texts for p in phonemize(normalize_text(t))}
        extra = sorted(seen - set(ARPABET) - set(PUNCTUATION.values()) - {" "} - set("abcdefghijklmnopqrstuvwxyz"))
        return Vocab([" ", *sorted(set(PUNCTUATION.values())), *ARPABET, *"abcdefghijklmnopqrstuvwxyz", *extra])
    chars = sorted({c for t in texts for c in normalize_text(t)} - {" "})
    return Vocab([" "] + chars)


def encode_all(tok, texts: list[str], name: str) -> list[list[int]]:
    """Token ids of every text, with one summary line instead of a warning per clip."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ids = [tok.encode(t) for t in texts]
    if caught:
        print(f"{name} manifest: {len(caught)} text(s) hold characters outside the vocabulary; first: "
              f"{caught[0].message}", file=sys.stderr)
    return ids


def _tokenizer(vocab):
    from deepaudio.text import Tokenizer

    return Tokenizer(vocab, mode="auto")
