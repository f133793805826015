"""Batch forms of ``v2a``, ``think``, ``tts`` and ``dub``: streamed inputs, sharded under ``torchrun``.

Each function takes the parsed arguments and the loaded pipeline (one per process) and hands the items
to :class:`deepaudio.distributed.BatchRun`, which keeps this rank's share, skips finished outputs, logs
per rank and writes ``batch_summary.json`` in the output folder. An item's seed is its ``seed`` column,
else :func:`~deepaudio.distributed.item_seed` of ``--seed`` and its name, so outputs are the same for
any number of processes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from deepaudio.cli.common import VIDEO_SUFFIXES
from deepaudio.distributed import BatchRun, item_seed
from deepaudio.errors import InputError
from deepaudio.io.batch_inputs import BatchItem, iter_items

TEXT_SUFFIXES = (".txt",)


def seed_of(item: BatchItem, base: int | None) -> int:
    if "seed" in item.options:
        try:
            return int(item.options["seed"])
        except ValueError as exc:
            raise InputError(f"seed {item.options['seed']!r} is not an integer", item.name) from exc
    return item_seed(base or 0, item.name)


def _need_path(item: BatchItem, what: str) -> Path:
    if item.path is None:
        raise InputError(f"the row gives no {what}", item.name, f"add a '{what}' column value")
    return item.path


def _folder(args: argparse.Namespace, *names: str) -> Path:
    for n in names:
        if getattr(args, n, None) is not None:
            return getattr(args, n)
    raise InputError("no output folder given", hint="add -o OUT_FOLDER")


def video_batch(args: argparse.Namespace, command: str, device, work_one, side_file=None) -> int:
    """``v2a`` and ``think``: ``-o`` folder of NAME.wav and/or ``--mux`` folder of NAME.mp4 per video;
    ``work_one(video, out, mux, options, say)`` makes one item (``options`` holds the per-item seed);
    ``side_file(out or mux)``: a file written after the outputs (a trace), part of a complete item."""
    run = BatchRun(command, _folder(args, "output", "mux"), device, args.overwrite)
    if args.mux is not None and Path(args.video).is_dir() and Path(args.mux).resolve() == Path(args.video).resolve():
        raise InputError("--mux writes into the input folder, where its videos would overwrite the inputs",
                         args.mux, "write the muxed videos to another folder")

    def outputs_of(item: BatchItem) -> list[Path | None]:
        out = args.output / f"{item.name}.wav" if args.output else None
        mux = args.mux / f"{item.name}.mp4" if args.mux else None
        return [out, mux] + ([side_file(out or mux)] if side_file else [])

    def work(item: BatchItem, outs: list[Path]) -> None:
        out, mux = outputs_of(item)[:2]
        opts = {**item.options, "seed": str(seed_of(item, args.seed))}
        work_one(_need_path(item, "video"), out, mux, opts, run.log)

    return run.run(iter_items(args.video, "video", VIDEO_SUFFIXES), outputs_of, work)


def tts_batch(args: argparse.Namespace, pipe, device) -> int:
    """``tts --manifest``: rows (name, text | text_file, ref_audio, ref_text, duration, speed, seed) -> NAME.wav."""
    from deepaudio.io.audio import save_audio

    run = BatchRun("tts", _folder(args, "output"), device, getattr(args, "overwrite", False))

    def work(item: BatchItem, outs: list[Path]) -> None:
        o = item.options
        text = o.get("text")
        if text is None:
            if item.path is None:
                raise InputError("the row gives neither 'text' nor 'text_file'", item.name)
            path = item.path
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(f"cannot read the text file ({exc})", path) from exc
        ref = _rebased(o.get("ref_audio"), args.manifest) or args.ref_audio
        if ref is None:
            raise InputError("no reference voice", item.name, "add a 'ref_audio' column or pass --ref-audio")
        wav, sr = pipe(text, ref, ref_text=o.get("ref_text", args.ref_text), nfe=args.nfe, cfg_strength=args.cfg,
                       sway=args.sway, solver=args.solver, schedule=args.schedule, seed=seed_of(item, args.seed),
                       speed=float(o.get("speed", args.speed)), timbre=args.timbre, adapt=args.adapt,
                       duration=float(o["duration"]) if "duration" in o else args.duration)
        save_audio(outs[0], wav, sr, inputs=[ref])

    return run.run(iter_items(args.manifest, "text_file", TEXT_SUFFIXES),
                   lambda item: [args.output / f"{item.name}.wav"], work)


def dub_batch(args: argparse.Namespace, pipe, device, write_result) -> int:
    """``dub --video MANIFEST``: rows (video, text | srt, ref_audio, ref_text, speech_only, seed) ->
    NAME.mp4 (or NAME.wav with ``--format wav``) and NAME.json."""
    ext = getattr(args, "format", None) or "mp4"
    run = BatchRun("dub", _folder(args, "output"), device, getattr(args, "overwrite", False))

    def outputs_of(item: BatchItem) -> list[Path]:
        out = args.output / f"{item.name}.{ext}"
        return [out, out.with_suffix(".json")]  # the side file is written last

    def work(item: BatchItem, outs: list[Path]) -> None:
        o = item.options
        video = _need_path(item, "video")
        ref = _rebased(o.get("ref_audio"), args.video) or args.ref_audio
        if ref is None:
            raise InputError("dubbing needs a reference voice", item.name, "add a 'ref_audio' column or --ref-audio")
        seed = seed_of(item, args.seed)
        common = {"seed": seed, "duck_db": args.duck_db, "fit": args.fit, "timing": args.timing,
                  "v2a_kwargs": {"steps": args.steps, "cfg_strength": args.cfg}, "tts_kwargs": {"nfe": args.nfe}}
        srt = _rebased(o.get("srt"), args.video)
        if srt is not None:
            from deepaudio.io.srt import parse_srt

            result = pipe.dub_subtitles(video, parse_srt(srt), ref, o.get("ref_text", args.ref_text), **common)
        elif o.get("text"):
            speech_only = o.get("speech_only", "").lower() in ("1", "true", "yes") or args.speech_only
            result = pipe(video=video, transcript=o["text"], task="v2s" if speech_only else "dub",
                          reference_audio=ref, reference_text=o.get("ref_text", args.ref_text), **common)
        else:
            raise InputError("the row gives neither 'text' nor 'srt'", item.name)
        for path in write_result(result, video, outs[0]):
            run.log(f"wrote {path}")

    return run.run(iter_items(args.video, "video", VIDEO_SUFFIXES), outputs_of, work)


def _rebased(value: str | None, manifest: Path) -> Path | None:
    """A path column of a manifest, relative to the manifest's folder."""
    if not value:
        return None
    p = Path(value)
    return p if p.is_absolute() else (manifest if manifest.is_dir() else manifest.parent) / p


def eval_sharded(items: list, opts, out: Path, device):
    """``eval`` under torchrun: the per-item metrics of each rank's items go to
    ``OUT/.eval_items/<options hash>/`` (one JSON per item, skipped when present); rank 0 then reads them all
    and computes the means and the set-level metrics. Returns (result on rank 0 else None, exit code)."""
    import dataclasses
    import json

    from deepaudio.distributed import stable_hash
    from deepaudio.eval.runner import EvalResult, aggregate, score_items
    from deepaudio.io.atomic import atomic_path

    settings = {k: v for k, v in dataclasses.asdict(opts).items() if k != "device"}  # ranks use other GPUs
    cache = out / ".eval_items" / f"{stable_hash(json.dumps(settings, sort_keys=True)):016x}"
    run = BatchRun("eval", out, device)
    by_name = {it.name: it for it in items}

    def path_of(name: str) -> Path:  # item names may hold '/' (test lists): the file is named by a hash
        return cache / f"{stable_hash(name):016x}.json"

    def work(item: BatchItem, outs: list[Path]) -> None:
        r = score_items([by_name[item.name]], opts)
        doc = {"row": r.rows[0], "problems": r.problems, "backends": r.backends, "unavailable": r.unavailable}
        outs[0].parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(outs[0]) as tmp:
            tmp.write_text(json.dumps(doc, default=lambda v: v.item() if hasattr(v, "item") else str(v)))

    code = run.run((BatchItem(it.name) for it in items), lambda item: [path_of(item.name)], work)
    if run.ranks.rank != 0:
        return None, code
    res = EvalResult()
    for it in items:
        try:
            doc = json.loads(path_of(it.name).read_text())
        except (OSError, json.JSONDecodeError):
            res.rows.append({"name": it.name})
            res.problems.append(f"{it.name}: not scored (its rank failed; run the command again)")
            continue
        res.rows.append(doc["row"])
        res.problems += doc["problems"]
        res.backends.update(doc["backends"])
        for k, v in doc["unavailable"].items():
            res.unavailable.setdefault(k, v)
    return aggregate(items, opts, res), code
