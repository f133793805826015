"""What to score: pairs of generated and reference clips, from folders or the papers' test lists.

Folders pair by file name: NAME.wav/.flac/.mp3 in ``--gen`` and ``--ref``; the transcript is NAME.txt
beside the reference (else beside the generated file); the video is NAME.mp4 in ``--video`` (else
beside either file). Lists (formats of the official evaluation scripts):

* V2C-Animation (DeepAudio-V1 ``v2c_test.lst``): six tab-separated columns, prompt wav, prompt video
  (or ``None``), prompt text, target wav, target video, target text. Generated files are numbered by
  line, ``00000000.wav``... (or named after the target wav). The Dub setting follows from the prompt:
  1.0 the target's own clip, 2.0 another clip of the same speaker, 3.0 an unseen speaker.
* LibriSpeech-PC test-clean cross-sentence (F5-TTS ``librispeech_pc_test_clean_cross_sentence.lst``):
  prompt utterance, its duration, its text, target utterance, duration, text; audio at
  ROOT/SPEAKER/CHAPTER/UTT.flac; generated files are TARGET_UTT.wav.
* VGGSound (``vggsound.csv``): youtube id, start second, label, split; the ``test`` rows, clips named
  ID_START (start zero-padded to 6 digits) as MMAudio writes them.
Missing or mismatched items are kept in the list with the reason, never dropped silently.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from deepaudio.errors import InputError

AUDIO_EXTS = (".wav", ".flac", ".mp3", ".ogg", ".m4a")
VIDEO_EXTS = (".mp4", ".mkv", ".mov", ".webm", ".avi")


@dataclass(frozen=True)
class Item:
    name: str
    gen: Path | None
    ref: Path | None = None  # ground truth of the same content (MCD, SPK-SIM, KL/FD pairing)
    text: str | None = None  # what should be said (WER)
    prompt: Path | None = None  # voice prompt (SIM-O in TTS compares against it)
    video: Path | None = None
    setting: str = ""
    problems: tuple[str, ...] = field(default_factory=tuple)


def _find(folder: Path, stem: str, exts) -> Path | None:
    for ext in exts:
        p = folder / f"{stem}{ext}"
        if p.is_file():
            return p
    return None


def _audio_stems(folder: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in AUDIO_EXTS and not p.name.startswith("."):
            out.setdefault(p.stem, p)
    return out


def _read_text(*candidates: Path | None) -> str | None:
    for c in candidates:
        if c is not None and c.is_file():
            return c.read_text(encoding="utf-8", errors="replace").strip()
    return None


def _video_for(stem: str, video_dir: Path | None, *beside: Path | None) -> Path | None:
    if video_dir is not None:
        v = _find(video_dir, stem, VIDEO_EXTS)
        if v:
            return v
    for b in beside:
        if b is not None:
            v = _find(b.parent, stem, VIDEO_EXTS)
            if v:
                return v
    return None


def pair_folders(gen_dir: Path, ref_dir: Path | None, video_dir: Path | None = None) -> list[Item]:
    """Items for every name in either folder; one-sided names carry a 'missing ...' problem."""
    gen = _audio_stems(gen_dir)
    ref = _audio_stems(ref_dir) if ref_dir is not None else {}
    names = sorted(set(gen) | set(ref))
    items = []
    for n in names:
        g, r = gen.get(n), ref.get(n)
        problems = []
        if g is None:
            problems.append(f"missing generated file {n}.* in {gen_dir}")
        if ref_dir is not None and r is None:
            problems.append(f"missing reference file {n}.* in {ref_dir}")
        text = _read_text(r.with_suffix(".txt") if r else None, g.with_suffix(".txt") if g else None)
        items.append(Item(n, g, r, text, None, _video_for(n, video_dir, g, r), "", tuple(problems)))
    return items


def _rebase(path_text: str, root: Path | None) -> Path | None:
    """A list's absolute path as is when it exists, else its longest tail that exists under ``root``."""
    if path_text in ("", "None"):
        return None
    p = Path(path_text)
    if p.is_file() or root is None:
        return p
    parts = p.parts
    for i in range(1, len(parts)):
        cand = root.joinpath(*parts[i:])
        if cand.is_file():
            return cand
    return root / p.name


def _dub_setting(prompt: Path | None, target: Path | None) -> str:
    if prompt is None or target is None:
        return ""
    if prompt.name == target.name:
        return "1.0"
    same_speaker = prompt.parent == target.parent or prompt.name.split("-")[0] == target.name.split("-")[0]
    return "2.0" if same_speaker else "3.0"


def _with_problems(item: Item, root_hint: str) -> Item:
    problems = list(item.problems)
    if item.gen is None or not item.gen.is_file():
        problems.append(f"missing generated file {item.gen}")
    if item.ref is not None and not item.ref.is_file():
        problems.append(f"missing reference file {item.ref} ({root_hint})")
    if item.prompt is not None and not item.prompt.is_file():
        problems.append(f"missing prompt file {item.prompt} ({root_hint})")
    return Item(item.name, item.gen, item.ref, item.text, item.prompt, item.video, item.setting, tuple(problems))


def load_v2c(lst: Path, gen_dir: Path, root: Path | None, video_dir: Path | None = None) -> list[Item]:
    items = []
    for idx, line in enumerate(lst.read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) != 6:
            raise InputError(f"line {idx + 1}: expected 6 tab-separated columns, got {len(cols)}", lst)
        prompt, _pvid, _ptext, target, tvid, ttext = cols
        tgt = _rebase(target, root)
        gen = _find(gen_dir, f"{idx:08d}", AUDIO_EXTS) or _find(gen_dir, Path(target).stem, AUDIO_EXTS)
        video = _rebase(tvid, root) if video_dir is None else _find(video_dir, f"{idx:08d}", VIDEO_EXTS)
        pr = _rebase(prompt, root)
        item = Item(f"{idx:08d}", gen or gen_dir / f"{idx:08d}.wav", tgt, ttext.strip(), pr, video,
                    _dub_setting(pr, tgt))
        items.append(_with_problems(item, "pass --data-root with the V2C-Animation folder"))
    return items


def load_librispeech_pc(lst: Path, gen_dir: Path, root: Path | None) -> list[Item]:
    if root is None:
        raise InputError("LibriSpeech-PC lists need the audio folder", lst, "pass --data-root LibriSpeech/test-clean")
    items = []
    for idx, line in enumerate(lst.read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) != 6:
            raise InputError(f"line {idx + 1}: expected 6 tab-separated columns, got {len(cols)}", lst)
        ref_utt, _rdur, _rtext, gen_utt, _gdur, gen_text = cols

        def flac(utt: str) -> Path:
            spk, chap = utt.split("-")[:2]
            return root / spk / chap / f"{utt}.flac"

        gen = _find(gen_dir, gen_utt, AUDIO_EXTS) or gen_dir / f"{gen_utt}.wav"
        item = Item(gen_utt, gen, flac(gen_utt), gen_text.strip(), flac(ref_utt), None, "cross-sentence")
        items.append(_with_problems(item, "pass --data-root LibriSpeech/test-clean"))
    return items


def load_vggsound(csv_path: Path, gen_dir: Path, ref_dir: Path | None, video_dir: Path | None) -> list[Item]:
    items = []
    with open(csv_path, newline="", encoding="utf-8") as fh:
        for row in csv.reader(fh):
            if len(row) < 4 or row[3].strip() != "test":
                continue
            try:
                name = f"{row[0]}_{int(row[1]):06d}"
            except ValueError:
                continue  # header line
            gen = _find(gen_dir, name, AUDIO_EXTS)
            ref = _find(ref_dir, name, AUDIO_EXTS) if ref_dir else None
            video = _find(video_dir, name, VIDEO_EXTS) if video_dir else None
            problems = [] if gen else [f"missing generated file {name}.* in {gen_dir}"]
            if ref_dir and not ref:
                problems.append(f"missing reference file {name}.* in {ref_dir}")
            items.append(Item(name, gen, ref, None, None, video, row[2].strip(), tuple(problems)))
    return items


def list_format(path: Path) -> str:
    """'v2c', 'librispeech-pc' or 'vggsound', from the first line of a list file."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        first = fh.readline().rstrip("\n")
    cols = first.split("\t")
    if len(cols) == 6:
        try:
            float(cols[1])
            return "librispeech-pc"
        except ValueError:
            return "v2c"
    if path.suffix.lower() == ".csv" or first.count(",") >= 3:
        return "vggsound"
    raise InputError("unrecognised list format", path,
                     "expected a V2C or LibriSpeech-PC .lst (6 tab-separated columns) or vggsound.csv")


def load_items(gen: str | Path, ref: str | Path | None, video: str | Path | None = None,
               data_root: str | Path | None = None) -> list[Item]:
    """Items from ``--gen DIR`` and ``--ref DIR|LIST`` (see the module docstring for the formats)."""
    gen_dir = Path(gen).expanduser()
    if not gen_dir.is_dir():
        raise InputError("generated-audio folder not found", gen_dir, "pass --gen DIR")
    video_dir = Path(video).expanduser() if video else None
    if video_dir is not None and not video_dir.is_dir():
        raise InputError("video folder not found", video_dir, "pass --video DIR")
    root = Path(data_root).expanduser() if data_root else None
    if ref is None:
        return pair_folders(gen_dir, None, video_dir)
    ref_path = Path(ref).expanduser()
    if ref_path.is_dir():
        return pair_folders(gen_dir, ref_path, video_dir)
    if not ref_path.is_file():
        raise InputError("reference folder or list not found", ref_path, "pass --ref DIR or a test list")
    fmt = list_format(ref_path)
    if fmt == "v2c":
        return load_v2c(ref_path, gen_dir, root, video_dir)
    if fmt == "librispeech-pc":
        return load_librispeech_pc(ref_path, gen_dir, root)
    return load_vggsound(ref_path, gen_dir, root, video_dir)
