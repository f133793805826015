"""A TTS-only speech corpus: many real sentences spoken by the toy world's voices.

Layout under ``OUT``::

    corpus.json                  seed, text source, speakers, sentence count (a re-run must match it)
    speech/<index>.wav           24 kHz mono, 16-bit, edge silence trimmed, RMS-normalised like the toy world
    manifests/tts_train.csv      audio_path,text,speaker

The sentences are ordered by a seeded hash and the first ``n`` are spoken, each by the next voice of
a round over the speakers, so growing ``n`` keeps every earlier utterance and every voice speaks the
same share. Each wav is written atomically, so an interrupted run resumes by skipping what exists. The
corpus is for training only: its sentences exclude the toy world's (``text_sources.corpus_sentences``),
so the toy world's validation and test splits stay unseen.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from pathlib import Path

from deepaudio.data.toyworld.voices import (
    EXTRA_SPEAKERS,
    SPEAKER_BY_ID,
    SPEAKERS,
    VARIANT_SPEAKERS,
    WARPED_SPEAKERS,
    VoiceBank,
)
from deepaudio.errors import ConfigError
from deepaudio.io.atomic import atomic_path
from deepaudio.io.audio import save_audio

FORMAT_VERSION = 1


def corpus_order(sentences: list[str], seed: int) -> list[str]:
    """``sentences`` in a seeded order that does not depend on their input order."""
    return sorted(sentences, key=lambda s: hashlib.sha256(f"speech-corpus:{seed}:{s}".encode()).digest())


def _check_header(out: Path, header: dict) -> None:
    path = out / "corpus.json"
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read ({exc})", path, "delete the output folder and start again") from exc
        for key in ("version", "seed", "source", "speakers", "sentences"):
            if old.get(key) != header[key]:
                raise ConfigError(f"this folder was written with another {key} ({old.get(key)!r}, now "
                                  f"{header[key]!r})", path,
                                  "use the same settings to extend it, or choose a new --out folder")
        return
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(header, indent=1), encoding="utf-8")


def write_speech_corpus(out: str | Path, sentences: list[str], n: int, source: str, seed: int = 0,
                        speakers: tuple[str, ...] | None = None, progress: bool = True) -> dict:
    """Speak the first ``n`` sentences (in ``corpus_order``) into ``out``; returns counts and speed."""
    from tqdm import tqdm

    out = Path(out).expanduser()
    ids = tuple(speakers) if speakers else tuple(s.id for s in SPEAKERS)
    if ids == ("all",):
        ids = tuple(s.id for s in SPEAKERS + EXTRA_SPEAKERS)
    elif ids == ("variants",):
        ids = tuple(s.id for s in VARIANT_SPEAKERS)
    elif ids == ("warped",):
        ids = tuple(s.id for s in WARPED_SPEAKERS)
    unknown = [s for s in ids if s not in SPEAKER_BY_ID]
    if unknown:
        raise ConfigError(f"unknown speaker id(s) {', '.join(unknown)}; known: {', '.join(SPEAKER_BY_ID)}")
    if n < 1:
        raise ConfigError(f"--n must be at least 1, got {n}")
    if n > len(sentences):
        raise ConfigError(f"--n {n} asks for more utterances than the {len(sentences)} usable sentences",
                          hint="lower --n or give more text")
    out.mkdir(parents=True, exist_ok=True)
    _check_header(out, {"version": FORMAT_VERSION, "seed": seed, "source": source, "speakers": list(ids),
                        "sentences": len(sentences)})
    bank = VoiceBank(out / "cache")
    chosen = corpus_order(sentences, seed)[:n]
    rows, written, t0 = [], 0, time.perf_counter()
    for i, text in enumerate(tqdm(chosen, desc="speech corpus", unit="utt", disable=not progress)):
        speaker = SPEAKER_BY_ID[ids[i % len(ids)]]
        path = out / "speech" / f"{i:06d}.wav"
        if not path.exists():
            save_audio(path, bank.synthesize(speaker, text, cache=False), bank.sample_rate)
            written += 1
        rows.append((f"../speech/{path.name}", text, speaker.id))
    with atomic_path(out / "manifests" / "tts_train.csv") as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)  # paths relative to the manifest, like the toy world's: the folder can move
        w.writerow(["audio_path", "text", "speaker"])
        w.writerows(rows)
    seconds = time.perf_counter() - t0
    return {"written": written, "skipped": n - written, "seconds": seconds,
            "utterances_per_s": written / seconds if written else 0.0}
