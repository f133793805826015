"""Whole clips: picture, ambience, speech, instructions and ground truth from one seed.

``ToyWorld.clip(index, split)`` is a pure function of (master seed, index, split, config) plus the speech
cache, so the same seed always gives identical arrays. Speech clips place real synthesised utterances
on the timeline; the faces' mouths follow them, or deliberately do not (voice-over).
"""

from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepaudio.data.toyworld.config import TASK_OF_KIND, WorldConfig
from deepaudio.data.toyworld.faces import Face, blink_frames, random_face, video_energy
from deepaudio.data.toyworld.instructions import make_instruction
from deepaudio.data.toyworld.layers import BounceLayer, HumLayer, SilentLayer
from deepaudio.data.toyworld.render import Canvas
from deepaudio.data.toyworld.sentences import SENTENCES, SOURCE
from deepaudio.data.toyworld.splits import assign_splits, clip_seed, sentence_splits, split_speakers
from deepaudio.data.toyworld.voices import VoiceBank
from deepaudio.errors import ConfigError

SPEECH_KINDS = ("talk", "dub", "voiceover", "dialogue")


@dataclass
class Clip:
    """One generated clip. Audio arrays are mono float32; ``frames`` is uint8 [T, H, W, 3]."""

    index: int
    seed: int
    split: str
    kind: str
    task: str
    frames: np.ndarray
    ambience: np.ndarray  # at cfg.sr_ambience (16 kHz)
    mix: np.ndarray  # ambience + speech at cfg.sr_speech (24 kHz)
    speech: np.ndarray | None  # timed speech track at cfg.sr_speech
    utterances: list[np.ndarray] = field(default_factory=list)  # trimmed, at cfg.sr_speech
    prompt: np.ndarray | None = None  # voice prompt: another sentence by the first speaker
    truth: dict = field(default_factory=dict)

    @property
    def clip_id(self) -> str:
        return f"{self.index:06d}"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "deepaudio" / "toyworld-speech"


class ToyWorld:
    """The generator: configuration, master seed, per-split sentence pools and the voice bank."""

    def __init__(self, cfg: WorldConfig, seed: int = 0, cache_dir: str | Path | None = None):
        self.cfg = cfg
        self.seed = int(seed)
        self.sentences = sentence_splits(SENTENCES, cfg.sentence_fractions, self.seed)
        self.voices = VoiceBank(cache_dir or default_cache_dir(), cfg.sr_speech, cfg.speech_rms)

    def clip(self, index: int, split: str | None = None) -> Clip:
        """Clip ``index``: everything follows from the clip seed (and the speech cache).

        ``split`` defaults to the clip's place in the split schedule (what ``write_dataset`` uses).
        """
        cfg, seed = self.cfg, clip_seed(self.seed, index)
        split = split or assign_splits(index + 1, cfg.split_fractions)[-1]
        rng = np.random.default_rng(seed)
        kind = cfg.kinds[int(rng.integers(len(cfg.kinds)))]
        speech = self._speech(kind, split, rng) if kind in SPEECH_KINDS else None
        duration = rng.uniform(cfg.min_duration, cfg.max_duration) if speech is None \
            else speech["end"] + rng.uniform(0.3, 1.0)
        n_frames = int(math.ceil(min(max(duration, cfg.min_duration), cfg.max_duration) * cfg.fps - 1e-9))
        duration = n_frames / cfg.fps
        layers, faces = self._layout(kind, rng, duration, seed)
        amb16, amb24, amb_gain = self._ambience(layers, duration)
        utter_tracks = self._utterance_tracks(speech, len(amb24))
        track = np.sum(utter_tracks, axis=0, dtype=np.float32) if utter_tracks else None
        mouths, face_truth = [], []
        for k, face in enumerate(faces):
            talking = kind != "voiceover" and k < len(utter_tracks)
            mouth = video_energy(utter_tracks[k], cfg.sr_speech, cfg.fps, n_frames) if talking \
                else np.zeros(n_frames, np.float32)
            blinks = blink_frames(rng, n_frames, cfg.fps)
            mouths.append((face, mouth, blinks))
            face_truth.append(dict(box=[round(v, 2) for v in face.box], mouth_box=[round(v, 2) for v in face.mouth_box],
                                   speaker=speech["utterances"][k]["speaker"] if talking else None, talking=talking,
                                   mouth=np.round(mouth, 4).tolist(), blink=np.flatnonzero(blinks).tolist()))
        frames = self._render(rng, layers, mouths, n_frames)
        mix = amb24 + (track if track is not None else 0.0)
        mix_peak = float(np.abs(mix).max(initial=0))
        mix_gain = 0.95 / mix_peak if mix_peak > 0.95 else 1.0
        task = TASK_OF_KIND[kind]
        utts = speech["utterances"] if speech else []
        transcript = " ".join(u["text"] for u in utts)
        prng = random.Random(seed)
        instr = [make_instruction(task, kind, transcript if task != "v2a" else None, split, prng)]
        if len(utts) == 1:  # the same sentence as a plain text-to-speech request
            instr.append(make_instruction("tts", kind, utts[0]["text"], split, prng))
        truth = dict(
            id=f"{index:06d}", index=index, seed=seed, split=split, kind=kind, task=task, duration=duration,
            fps=cfg.fps, size=cfg.size, n_frames=n_frames, sr_ambience=cfg.sr_ambience, sr_speech=cfg.sr_speech,
            layers=[layer.truth() for layer in layers], faces=face_truth,
            speech=[{k: v for k, v in u.items() if k != "wav"} for u in utts],
            prompt={k: v for k, v in speech["prompt"].items() if k != "wav"} if speech else None,
            transcript=transcript, voice_over=kind == "voiceover", ambience_silent=bool(np.all(amb16 == 0)),
            ambience_gain=amb_gain, mix_gain=mix_gain, instructions=instr, text_source=SOURCE,
        )
        return Clip(index, seed, split, kind, task, frames, amb16, (mix * mix_gain).astype(np.float32), track,
                    [u["wav"] for u in utts], speech["prompt"]["wav"] if speech else None, truth)

    def _ambience(self, layers, duration: float) -> tuple[np.ndarray, np.ndarray, float]:
        """The layers' sound at 16 and 24 kHz, scaled together (one gain) so that neither clips."""
        cfg = self.cfg
        n_amb, n_sp = round(duration * cfg.sr_ambience), round(duration * cfg.sr_speech)
        amb16, amb24 = np.zeros(n_amb, np.float32), np.zeros(n_sp, np.float32)
        for layer in layers:
            amb16 += layer.sound(n_amb, cfg.sr_ambience)
            amb24 += layer.sound(n_sp, cfg.sr_speech)
        peak = max(float(np.abs(amb16).max(initial=0)), float(np.abs(amb24).max(initial=0)))
        gain = 0.9 / peak if peak > 0.9 else 1.0
        return amb16 * gain, amb24 * gain, gain

    @staticmethod
    def _utterance_tracks(speech: dict | None, n: int) -> list[np.ndarray]:
        """One full-length track per utterance (zeros outside it), at the speech rate."""
        tracks = []
        for u in speech["utterances"] if speech else []:
            one = np.zeros(n, np.float32)
            s0 = u["sample_start_24k"]
            one[s0: s0 + len(u["wav"])] = u["wav"][: n - s0]
            tracks.append(one)
        return tracks

    def _speech(self, kind: str, split: str, rng: np.random.Generator) -> dict:
        """Pick speaker(s) and sentences from the split's pools and place them on the timeline."""
        cfg = self.cfg
        pool = self.sentences[split]
        speakers = split_speakers(split, cfg.speakers, cfg.unseen_speakers)
        n_utt = 2 if kind == "dialogue" else 1
        chosen = [speakers[i] for i in rng.choice(len(speakers), size=n_utt, replace=len(speakers) < n_utt)]
        budget = cfg.max_duration - 0.6
        for attempt in range(12):
            # After a few misses, fall back to the shortest sentences so every clip fits in max_duration.
            cands = pool if attempt < 8 else sorted(pool, key=len)[: max(4, len(pool) // 5)]
            texts = [cands[i] for i in rng.choice(len(cands), size=n_utt, replace=False)]
            wavs = [self.voices.synthesize(s, t) for s, t in zip(chosen, texts)]
            gaps = [float(rng.uniform(0.3, 0.8))] + [float(rng.uniform(0.2, 0.6)) for _ in wavs[1:]]
            total = sum(gaps) + sum(len(w) for w in wavs) / cfg.sr_speech
            if total <= budget:
                break
        else:
            raise ConfigError(f"no sentence of split {split} fits in a {cfg.max_duration:.1f} s clip",
                              hint="raise max_duration")
        utts, t = [], 0.0
        for spk, text, wav, gap in zip(chosen, texts, wavs, gaps):
            s0 = int(round((t + gap) * cfg.sr_speech))
            utts.append(dict(speaker=spk.id, text=text, start=s0 / cfg.sr_speech,
                             end=(s0 + len(wav)) / cfg.sr_speech, sample_start_24k=s0, wav=wav))
            t = (s0 + len(wav)) / cfg.sr_speech
        others = [p for p in pool if p not in texts] or pool
        prompt_text = others[int(rng.integers(len(others)))]
        prompt = dict(speaker=chosen[0].id, text=prompt_text, wav=self.voices.synthesize(chosen[0], prompt_text))
        return dict(utterances=utts, prompt=prompt, end=t)

    def _layout(self, kind: str, rng: np.random.Generator, duration: float, seed: int):
        s, floor = float(self.cfg.size), float(self.cfg.size - self.cfg.floor_margin)
        ambient = BounceLayer if rng.random() < 0.6 else HumLayer

        def amb(box):
            return ambient.build(rng, self.cfg, box if ambient is BounceLayer else (box[0], 0.0, box[2], s),
                                 duration, seed)

        if kind == "bounce":
            return [BounceLayer.build(rng, self.cfg, (0.0, 0.0, s, floor), duration, seed)], []
        if kind == "hum":
            return [HumLayer.build(rng, self.cfg, (0.0, 0.0, s, s), duration, seed)], []
        if kind == "silent":
            return [SilentLayer.build(rng, self.cfg, (0.0, 0.0, s, s), duration, seed)], []
        if kind == "talk":
            return [], [random_face(rng, 0.5 * s, 0.52 * s, 0.3 * s)]
        if kind == "dialogue":
            return [], [random_face(rng, 0.27 * s, 0.52 * s, 0.2 * s), random_face(rng, 0.73 * s, 0.52 * s, 0.2 * s)]
        if kind == "dub" or rng.random() < 0.4:  # dub, or a voice-over over a face that stays still
            return [amb((0.5 * s, 0.0, s, floor))], [random_face(rng, 0.25 * s, 0.45 * s, 0.2 * s)]
        return [amb((0.0, 0.0, s, floor))], []  # voice-over with no face at all

    def _render(self, rng: np.random.Generator, layers, mouths: list[tuple[Face, np.ndarray, np.ndarray]],
                n_frames: int) -> np.ndarray:
        bg = tuple(int(c) for c in rng.integers(200, 250, size=3))
        canvas = Canvas(self.cfg.size, bg)
        frames = np.empty((n_frames, self.cfg.size, self.cfg.size, 3), np.uint8)
        sprites: list[dict] = [{} for _ in mouths]
        for k in range(n_frames):
            canvas.clear(bg)
            for layer in layers:
                layer.draw(canvas, k)
            for (face, mouth, blinks), cache in zip(mouths, sprites):
                face.draw(canvas, float(mouth[k]), bool(blinks[k]), cache)
            frames[k] = canvas.frame()
        return frames
