"""Toy world: determinism, sample-accurate impacts, silence, mouths that follow speech, disjoint splits."""

from __future__ import annotations

import dataclasses
import random
import shutil

import numpy as np
import pytest
import torch

from deepaudio.data import instructions as corpus
from deepaudio.data.toyworld import WORLD_PRESETS, ToyWorld, WorldConfig
from deepaudio.data.toyworld.faces import Face, mouth_openness
from deepaudio.data.toyworld.instructions import make_instruction
from deepaudio.data.toyworld.physics import Body, simulate
from deepaudio.data.toyworld.sentences import SENTENCES
from deepaudio.data.toyworld.splits import assign_splits, clip_seed, sentence_splits, split_speakers
from deepaudio.data.toyworld.voices import SPEAKERS
from deepaudio.dsp.energy import energy_contour, is_silent
from deepaudio.errors import ConfigError

# Debian voices only: they start in milliseconds (piper's model takes seconds to load).
FAST_SPEAKERS = ("flite-kal", "flite-slt", "flite-awb", "espeak-us-f2", "espeak-gb-m1", "flite-rms")


def _world(tmp_path_factory, **changes) -> ToyWorld:
    if shutil.which("flite") is None or shutil.which("espeak-ng") is None:
        pytest.skip("flite / espeak-ng are not installed")
    cfg = dataclasses.replace(WORLD_PRESETS.get("tiny"), speakers=FAST_SPEAKERS, **changes)
    return ToyWorld(cfg, seed=3, cache_dir=tmp_path_factory.getbasetemp() / "speech-cache")


def _first_of_kind(world: ToyWorld, kind: str, split: str = "train", start: int = 0):
    world = ToyWorld(dataclasses.replace(world.cfg, kinds=(kind,)), world.seed, world.voices.cache_dir)
    return world.clip(start, split)


def test_same_seed_gives_identical_arrays(tmp_path_factory):
    w1, w2 = _world(tmp_path_factory), _world(tmp_path_factory)
    for i in range(4):
        a, b = w1.clip(i, "train"), w2.clip(i, "train")
        assert a.kind == b.kind
        np.testing.assert_array_equal(a.frames, b.frames)
        np.testing.assert_array_equal(a.ambience, b.ambience)
        np.testing.assert_array_equal(a.mix, b.mix)
        assert a.truth == b.truth
    assert not np.array_equal(w1.clip(0, "train").frames[:1], ToyWorld(w1.cfg, seed=4).clip(0, "train").frames[:1])


def test_dropped_ball_hits_floor_at_the_analytic_time():
    g, h, r = 600.0, 50.0, 5.0
    body = Body("circle", r, "wood", np.array([50.0, 20.0]), np.zeros(2), np.zeros(2))
    _, contacts, truncated = simulate([body], 1.0, (0, 0, 100, 20 + h + r), gravity=g, restitution={0: 0.5},
                                      rest_speed=1.0, friction=0.0)
    assert not truncated
    t_hit = np.sqrt(2 * h / g)
    assert contacts[0].kind == "floor"
    assert abs(contacts[0].time - t_hit) < 1e-9
    assert abs(contacts[0].speed - g * t_hit) < 1e-6
    # The bounce leaves at half the speed, so the second contact comes 2 * (v / 2) / g later.
    assert abs(contacts[1].time - (t_hit + g * t_hit / g)) < 1e-9


def _onset(x: np.ndarray, sr: int, t: float) -> float | None:
    """First sample in [t - 20 ms, t + 20 ms] above 20 % of the peak of the 10 ms after it (None if masked)."""
    lo, hi = int((t - 0.02) * sr), int((t + 0.02) * sr)
    if lo < int(0.01 * sr) or hi + int(0.01 * sr) > len(x):
        return None
    env = np.abs(x)
    background = env[lo - int(0.01 * sr): lo].max()
    peak = env[lo: hi + int(0.01 * sr)].max()
    if background > 0.05 * peak:  # still ringing from an earlier impact: no clean onset to find
        return None
    above = np.flatnonzero(env[lo:hi] > 0.2 * peak)
    return None if len(above) == 0 else (lo + above[0]) / sr


def test_impacts_start_on_the_contact_sample(tmp_path_factory):
    world = _world(tmp_path_factory, kinds=("bounce",))
    checked = 0
    for i in range(6):
        clip = world.clip(i, "train")
        contacts = [c for c in clip.truth["layers"][0]["contacts"] if c["audible"]]
        times = [c["time"] for c in contacts]
        for c in contacts:
            if any(0 < c["time"] - t < 0.03 for t in times) or any(0 < t - c["time"] < 0.04 for t in times):
                continue  # another impact too close to tell the two apart
            for wav, sr in ((clip.ambience, 16000), (clip.mix, 24000)):
                found = _onset(wav, sr, c["time"])
                if found is not None:
                    assert abs(found - c["time"]) <= 1e-3, (i, c)
                    checked += 1
        # The contact frame shows the body at the wall: within half a frame of travel (plus a pixel).
        pos = np.asarray(clip.truth["layers"][0]["positions"])
        box = clip.truth["layers"][0]["box"]
        for c in contacts:
            if c["kind"] == "floor" and c["frame"] < len(pos):
                b = c["bodies"][0]
                gap = box[3] - (pos[c["frame"], b, 1] + clip.truth["layers"][0]["bodies"][b]["radius"])
                assert -0.05 <= gap <= c["speed"] / (2 * 25) + 1.0
    assert checked >= 10


def test_impact_loudness_follows_speed_and_material_sets_timbre():
    from deepaudio.data.toyworld.materials import MATERIALS, impact_sound

    rng = np.random.default_rng(0)
    slow = impact_sound(MATERIALS["wood"], 8.0, 100.0, 16000, rng)
    fast = impact_sound(MATERIALS["wood"], 8.0, 300.0, 16000, rng)
    assert np.abs(fast).max() > 2.5 * np.abs(slow).max()

    def ring_time(x):  # seconds until the envelope is 40 dB under its peak
        env = np.abs(x)
        return np.flatnonzero(env > env.max() * 0.01)[-1] / 16000

    metal = impact_sound(MATERIALS["metal"], 8.0, 300.0, 16000, rng)
    rubber = impact_sound(MATERIALS["rubber"], 8.0, 300.0, 16000, rng)
    assert ring_time(metal) > 5 * ring_time(fast) and ring_time(metal) > 5 * ring_time(rubber)
    spec = [np.abs(np.fft.rfft(x[:1600], 4096)) for x in (rubber, metal)]
    centroid = [float((s * np.arange(len(s))).sum() / s.sum()) for s in spec]
    assert centroid[0] < centroid[1]


def test_silent_scenes_are_exactly_silent(tmp_path_factory):
    world = _world(tmp_path_factory, kinds=("silent",))
    for i in range(3):
        clip = world.clip(i, "train")
        assert clip.truth["ambience_silent"]
        assert not clip.ambience.any() and not clip.mix.any()
        assert is_silent(torch.from_numpy(clip.ambience)[None], 16000)
        assert clip.frames.std(axis=0).max() > 0  # something moves on screen


def test_hum_pitch_follows_speed(tmp_path_factory):
    clip = _first_of_kind(_world(tmp_path_factory), "hum")
    src = clip.truth["layers"][0]["sources"][0]
    speed, f0 = np.asarray(src["speed"]), np.asarray(src["f0"])
    assert np.corrcoef(speed, f0)[0, 1] > 0.99 and np.ptp(f0) > 5
    assert np.sqrt(np.mean(clip.ambience**2)) > 1e-3


def _mouth_vs_energy(clip, face_index: int) -> float:
    face_truth = clip.truth["faces"][face_index]
    x0, y0, x1, y1 = face_truth["box"]
    r = (x1 - x0) / 2
    face = Face(x0 + r, y1 - r, r, tuple(int(c) for c in clip.frames[0][int(y1 - r), int(x0 + r)]), (0, 0, 0))
    measured = np.array([mouth_openness(f, face) for f in clip.frames])
    # Speech energy from the shared DeepAudio-V1 contour (93.75 frames/s), averaged per video frame.
    utt = clip.truth["speech"][face_index]
    track = np.zeros_like(clip.speech)
    s0 = utt["sample_start_24k"]
    track[s0: s0 + len(clip.utterances[face_index])] = clip.utterances[face_index][: len(track) - s0]
    contour = energy_contour(torch.from_numpy(track), 24000).numpy()
    t = (np.arange(len(contour)) + 0.5) * 256 / 24000
    frame = np.minimum((t * 25).astype(int), len(measured) - 1)
    per_frame = np.bincount(frame, contour, len(measured)) / np.maximum(np.bincount(frame, None, len(measured)), 1)
    return float(np.corrcoef(measured, per_frame)[0, 1])


def test_mouth_opening_follows_speech_energy(tmp_path_factory):
    world = _world(tmp_path_factory)
    talk = _first_of_kind(world, "talk")
    assert talk.truth["faces"][0]["talking"]
    assert _mouth_vs_energy(talk, 0) > 0.8
    dialogue = _first_of_kind(world, "dialogue")
    assert len({u["speaker"] for u in dialogue.truth["speech"]}) == 2
    assert _mouth_vs_energy(dialogue, 0) > 0.8 and _mouth_vs_energy(dialogue, 1) > 0.8


def test_voiceover_has_speech_but_no_moving_mouth(tmp_path_factory):
    world = ToyWorld(dataclasses.replace(_world(tmp_path_factory).cfg, kinds=("voiceover",)), 3,
                     tmp_path_factory.getbasetemp() / "speech-cache")
    for i in range(3):
        clip = world.clip(i, "train")
        assert clip.truth["voice_over"] and clip.task == "v2a" and clip.truth["transcript"]
        assert np.sqrt(np.mean(clip.speech**2)) > 0.01
        assert all(not f["talking"] and max(f["mouth"]) == 0 for f in clip.truth["faces"])
        assert clip.truth["instructions"][0]["task"] == "v2a"


def test_splits_share_no_seed_sentence_or_speaker_prompt_pair(tmp_path_factory):
    splits = assign_splits(40, (0.5, 0.25, 0.25))
    assert assign_splits(20, (0.5, 0.25, 0.25)) == splits[:20]  # growing --n never moves a clip
    assert splits.count("train") == 20 and splits.count("val") == 10
    seeds = [clip_seed(0, i) for i in range(5000)]
    assert len(set(seeds)) == len(seeds)
    pools = sentence_splits(SENTENCES, (0.7, 0.15, 0.15), 0)
    assert sum(len(p) for p in pools.values()) == len(set(SENTENCES))
    assert not set(pools["train"]) & set(pools["test"]) and not set(pools["val"]) & set(pools["test"])

    world = _world(tmp_path_factory, kinds=("talk", "dub", "dialogue"))
    seen: dict[str, dict[str, set]] = {}
    for i, split in enumerate(splits[:12]):
        clip = world.clip(i, split)
        s = seen.setdefault(split, {"seed": set(), "sentence": set(), "pair": set(), "template": set()})
        s["seed"].add(clip.seed)
        s["sentence"].update(u["text"] for u in clip.truth["speech"])
        s["sentence"].add(clip.truth["prompt"]["text"])
        s["pair"].add((clip.truth["prompt"]["speaker"], clip.truth["prompt"]["text"]))
        s["template"].update(ins["template"] for ins in clip.truth["instructions"])
        for ins in clip.truth["instructions"]:
            assert ins["transcript"] and ins["transcript"] in ins["instruction"]
    assert set(seen) == {"train", "val", "test"}
    for a in seen:
        for b in seen:
            if a < b:
                for key in ("seed", "sentence", "pair"):
                    assert not seen[a][key] & seen[b][key], (a, b, key)
    held_out = {f"{task}:{i}" for task, d in corpus.split_templates().items() for i in d["test"]}
    assert seen["test"]["template"] <= held_out
    assert not (seen["train"]["template"] | seen["val"]["template"]) & held_out


def test_instructions_cover_every_task_with_exact_quoted_transcripts():
    rng = random.Random(0)
    texts = set()
    for task in ("v2a", "tts", "v2s", "dub"):
        for _ in range(30):
            ins = make_instruction(task, "dub", None if task == "v2a" else "We had pancakes for breakfast.",
                                   "train", rng)
            texts.add(ins["instruction"])
            assert ins["task"] == task
            if task != "v2a":
                assert "We had pancakes for breakfast." in ins["instruction"]
    assert len(texts) > 100
    assert any(t != t.lower() and t.upper() == t for t in texts)  # some shouting
    with pytest.raises(ValueError):
        make_instruction("tts", "talk", None, "train", rng)


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError):
        WorldConfig(kinds=("explosions",))
    with pytest.raises(ConfigError):
        WorldConfig(split_fractions=(0.5, 0.2, 0.2))
    with pytest.raises(ConfigError):
        WorldConfig(speakers=("flite-rms",), unseen_speakers=True)
    assert WorldConfig(speakers=("flite-rms",)).speakers == ("flite-rms",)  # every voice speaks in every split


def test_unseen_speakers_speak_only_in_the_test_split():
    ids = {split: {s.id for s in split_speakers(split)} for split in ("train", "val", "test")}
    held = {split: {s.id for s in split_speakers(split, unseen=True)} for split in ("train", "val", "test")}
    test_only = {s.id for s in SPEAKERS if s.test_only}
    assert test_only and ids["train"] == ids["val"] == ids["test"] == {s.id for s in SPEAKERS}
    assert held["test"] == ids["test"] and held["train"] == held["val"] == ids["test"] - test_only
    assert {s.id for s in split_speakers("train", ("flite-kal", "flite-rms"), unseen=True)} == {"flite-kal"}


def test_speech_is_cached_resampled_and_normalised(tmp_path):
    from deepaudio.data.toyworld.voices import SPEAKER_BY_ID, VoiceBank

    if shutil.which("flite") is None:
        pytest.skip("flite is not installed")
    bank = VoiceBank(tmp_path, 24000, 0.08)
    spk = SPEAKER_BY_ID["flite-slt"]  # flite's slt speaks at 16 kHz
    wav = bank.synthesize(spk, "The tea has gone cold.")
    assert (tmp_path / f"{bank.key(spk, 'The tea has gone cold.')}.wav").is_file()
    assert 0.8 < len(wav) / 24000 < 3.0
    assert abs(float(np.sqrt(np.mean(wav**2))) - 0.08) < 1e-3
    np.testing.assert_array_equal(VoiceBank(tmp_path, 24000, 0.08).synthesize(spk, "The tea has gone cold."), wav)
    other = bank.synthesize(SPEAKER_BY_ID["espeak-us-f2"], "The tea has gone cold.")
    assert len(other) != len(wav)
