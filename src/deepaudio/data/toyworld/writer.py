"""Writing a toy-world data set: one folder per clip, then CSV manifests per task and split.

Layout under ``OUT``::

    toyworld.json                      seed, config, text source, speakers (a re-run must match it)
    clips/<split>/<id>/video.mp4       silent video (h264)
                       video_audio.mp4 the same video with the full mix (AAC)
                       ambience_16k.wav  V2A target (exact zeros for silent scenes)
                       mix_24k.wav       ambience + speech
                       speech_24k.wav    timed speech track; utt<k>_24k.wav the trimmed utterances
                       prompt_24k.wav    voice prompt (another sentence by the first speaker)
                       transcript.txt, meta.json (all ground truth; written last)
    manifests/{tts,v2a,v2s,dub,router,deepsound}_<split>.csv

Each clip folder appears atomically (``atomic_dir``), so a clip folder that exists is complete and an
interrupted run resumes by skipping it. Manifests are rebuilt from the clips' ``meta.json`` files.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

from deepaudio.config import to_dict
from deepaudio.data.toyworld.config import WorldConfig
from deepaudio.data.toyworld.scenes import Clip, ToyWorld
from deepaudio.data.toyworld.sentences import SOURCE
from deepaudio.data.toyworld.splits import SPLITS, assign_splits
from deepaudio.data.toyworld.voices import SPEAKERS
from deepaudio.errors import ConfigError, OutputPathError
from deepaudio.io.atomic import atomic_dir, atomic_path
from deepaudio.io.audio import save_audio
from deepaudio.io.mux import mux_audio
from deepaudio.io.video import write_video

FORMAT_VERSION = 1

MANIFEST_COLUMNS = {
    "tts": ("audio_path", "text", "speaker"),
    "v2a": ("video", "audio"),
    "v2s": ("video", "speech", "text", "speaker", "prompt_audio", "prompt_text", "ambience"),
    "dub": ("video", "audio", "speech", "ambience", "text", "speaker", "prompt_audio", "prompt_text"),
    "router": ("instruction", "task", "transcript"),
    "deepsound": ("video", "audio", "ambience", "voice_over"),
}


def write_toy_video(path: str | Path, frames, fps: float, **kwargs) -> Path:
    """``write_video`` with the toy world's container tag, which lets ``--face-backend auto`` use the
    cartoon face detector on this video (and on nothing else)."""
    from deepaudio.perception.toon import TOY_WORLD_COMMENT

    return write_video(path, frames, fps, metadata={"comment": TOY_WORLD_COMMENT}, **kwargs)


def clip_dir(out: Path, split: str, index: int) -> Path:
    return out / "clips" / split / f"{index:06d}"


def write_clip(clip: Clip, folder: Path) -> None:
    """Write every file of ``clip`` into ``folder`` atomically (the folder appears whole or not at all)."""
    t = clip.truth
    with atomic_dir(folder) as tmp:
        write_toy_video(tmp / "video.mp4", clip.frames, t["fps"])
        # Same picture, so copy the encoded video stream rather than encoding it twice.
        mux_audio(tmp / "video.mp4", [(clip.mix[None], t["sr_speech"], "mix")], tmp / "video_audio.mp4")
        save_audio(tmp / "ambience_16k.wav", clip.ambience, t["sr_ambience"])
        save_audio(tmp / "mix_24k.wav", clip.mix, t["sr_speech"])
        files = {"video": "video.mp4", "video_audio": "video_audio.mp4", "ambience": "ambience_16k.wav",
                 "mix": "mix_24k.wav"}
        if clip.speech is not None:
            save_audio(tmp / "speech_24k.wav", clip.speech, t["sr_speech"])
            save_audio(tmp / "prompt_24k.wav", clip.prompt, t["sr_speech"])
            (tmp / "transcript.txt").write_text(t["transcript"] + "\n")
            files.update(speech="speech_24k.wav", prompt="prompt_24k.wav", transcript="transcript.txt")
            files["utterances"] = []
            for k, wav in enumerate(clip.utterances):
                save_audio(tmp / f"utt{k}_24k.wav", wav, t["sr_speech"])
                files["utterances"].append(f"utt{k}_24k.wav")
        (tmp / "meta.json").write_text(json.dumps(dict(t, files=files), indent=1))


def _check_header(out: Path, header: dict) -> None:
    path = out / "toyworld.json"
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read ({exc})", path, "delete the output folder and start again") from exc
        for key in ("version", "seed", "config"):
            if old.get(key) != header[key]:
                what = f"another {key} ({old.get(key)!r})"
                if key == "config" and isinstance(old.get(key), dict):  # name the settings that differ
                    was, now = old[key], header[key]
                    what = "other settings (" + ", ".join(
                        f"{k}: {was.get(k, '(not set)')!r} there, {now.get(k, '(not set)')!r} here"
                        for k in sorted(set(was) | set(now)) if was.get(k) != now.get(k)) + ")"
                raise ConfigError(f"this folder was generated with {what}", path,
                                  "use the same settings to extend it, or choose a new --out folder")
        return
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(header, indent=1))


def write_dataset(out: str | Path, n: int, cfg: WorldConfig, seed: int = 0, cache_dir: str | Path | None = None,
                  progress: bool = True) -> dict:
    """Generate clips ``0..n-1`` under ``out`` (skipping finished ones) and rebuild the manifests.

    Returns counts and timing: ``{"written", "skipped", "seconds", "clips_per_s", "per_split"}``.
    """
    from tqdm import tqdm

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputPathError("output path is a file, expected a folder", out, "give a folder for --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputPathError(f"cannot create the output folder ({exc.strerror})", out) from exc
    header = dict(version=FORMAT_VERSION, seed=int(seed), config=json.loads(json.dumps(to_dict(cfg))),
                  text_source=SOURCE, speakers=[s.id for s in SPEAKERS])
    _check_header(out, header)
    world = ToyWorld(cfg, seed, cache_dir if cache_dir is not None else out / "cache" / "speech")
    splits = assign_splits(n, cfg.split_fractions)
    written = skipped = 0
    start = time.perf_counter()
    for i in tqdm(range(n), desc="toyworld", unit="clip", disable=not progress):
        folder = clip_dir(out, splits[i], i)
        if (folder / "meta.json").exists():
            skipped += 1
            continue
        write_clip(world.clip(i, splits[i]), folder)
        written += 1
    seconds = time.perf_counter() - start
    per_split = write_manifests(out, splits)
    return dict(written=written, skipped=skipped, seconds=seconds,
                clips_per_s=written / seconds if written and seconds > 0 else float("nan"), per_split=per_split)


def _rows(meta: dict, rel: str) -> dict[str, list[dict]]:
    f = meta["files"]

    def p(name: str) -> str:
        return f"{rel}/{name}"

    rows: dict[str, list[dict]] = {k: [] for k in MANIFEST_COLUMNS}
    rows["v2a"].append(dict(video=p(f["video"]), audio=p(f["ambience"])))
    rows["deepsound"].append(dict(video=p(f["video_audio"]), audio=p(f["mix"]), ambience=p(f["ambience"]),
                                  voice_over=int(meta["voice_over"])))
    for ins in meta["instructions"]:
        rows["router"].append({k: ins[k] for k in MANIFEST_COLUMNS["router"]})
    if meta["speech"]:
        for u, name in zip(meta["speech"], f["utterances"]):
            rows["tts"].append(dict(audio_path=p(name), text=u["text"], speaker=u["speaker"]))
        prompt = meta["prompt"]
        rows["tts"].append(dict(audio_path=p(f["prompt"]), text=prompt["text"], speaker=prompt["speaker"]))
        common = dict(video=p(f["video"]), speech=p(f["speech"]), text=meta["transcript"],
                      speaker="|".join(u["speaker"] for u in meta["speech"]), prompt_audio=p(f["prompt"]),
                      prompt_text=meta["prompt"]["text"], ambience=p(f["ambience"]))
        if meta["task"] == "v2s":
            rows["v2s"].append(common)
        elif meta["task"] == "dub":
            rows["dub"].append(dict(common, audio=p(f["mix"])))
    return rows


def write_manifests(out: Path, splits: list[str]) -> dict[str, int]:
    """Rebuild ``manifests/<task>_<split>.csv`` from the meta.json of clips ``0..len(splits)-1``."""
    table = {(task, s): [] for task in MANIFEST_COLUMNS for s in SPLITS}
    seen_tts: set[tuple[str, str, str]] = set()
    counts = dict.fromkeys(SPLITS, 0)
    for i, split in enumerate(splits):
        folder = clip_dir(out, split, i)
        meta_path = folder / "meta.json"
        if not meta_path.exists():
            continue
        counts[split] += 1
        meta = json.loads(meta_path.read_text())
        # Paths are relative to the manifest's own folder, the convention every manifest reader follows.
        for task, rows in _rows(meta, "../" + folder.relative_to(out).as_posix()).items():
            for row in rows:
                if task == "tts":  # one row per distinct utterance
                    key = (split, row["speaker"], row["text"])
                    if key in seen_tts:
                        continue
                    seen_tts.add(key)
                table[(task, split)].append(row)
    (out / "manifests").mkdir(exist_ok=True)
    for (task, split), rows in table.items():
        with atomic_path(out / "manifests" / f"{task}_{split}.csv") as tmp, open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(MANIFEST_COLUMNS[task]))
            w.writeheader()
            w.writerows(rows)
    return counts


def load_meta(out: str | Path) -> list[dict]:
    """All clips' ground truth under ``out`` in index order."""
    metas = [json.loads(p.read_text()) for p in Path(out).glob("clips/*/*/meta.json")]
    return sorted(metas, key=lambda m: m["index"])


