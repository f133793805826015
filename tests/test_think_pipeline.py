"""DeepSound-V1 steps on toy-world clips: detect off-screen speech, remove it, keep a talking face's speech.

Clips come from the toy world (real synthesised speech; a cartoon face whose mouth follows it, or a still
face / no face with the same kind of speech off screen). The V2A model is a tiny random network: it only
has to run through the generate / regenerate paths.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from deepaudio.cli.main import main
from deepaudio.data.toyworld import WORLD_PRESETS, ToyWorld, write_toy_video
from deepaudio.errors import ConfigError, InputError
from deepaudio.io.audio import load_audio, save_audio
from deepaudio.pipelines.think import ThinkPipeline, ThinkSettings
from deepaudio.think.evidence import speech_segments
from deepaudio.think.removal import CLAMP_QUANTILE, clamp_frames, regenerate, span_mask, suppress_spans

SR = 24000


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("think")
    out = {}
    for kind, index in (("voiceover", 0), ("talk", 0)):
        world = ToyWorld(dataclasses.replace(WORLD_PRESETS.get("tiny"), kinds=(kind,)), seed=5)
        clip = world.clip(index, "test")
        write_toy_video(root / f"{kind}.mp4", clip.frames, clip.truth["fps"])
        wav = torch.from_numpy(clip.mix)[None]
        save_audio(root / f"{kind}.wav", wav, SR)
        out[kind] = dict(video=root / f"{kind}.mp4", audio=root / f"{kind}.wav", wav=wav,
                         speech=torch.from_numpy(clip.speech)[None], clip=clip)
    return out


@pytest.fixture(scope="module")
def tiny_v2a():
    from deepaudio.models.encoders.tiny_bundle import TinyV2AEncoder
    from deepaudio.models.v2a.codecs import MelCodec
    from deepaudio.models.v2a.mmdit import MMAudioNet
    from deepaudio.pipelines.v2a import V2APipeline
    from deepaudio.train.v2a import V2A_SETUPS

    setup = V2A_SETUPS.get("micro")
    torch.manual_seed(0)
    net = MMAudioNet(setup.net)
    with torch.no_grad():  # latent statistics are set by training; a log-mel around -5 +- 1 stands in
        net.latent_mean.fill_(-5.0)
        net.latent_std.fill_(1.0)
    return V2APipeline(net, TinyV2AEncoder(setup.encoder), MelCodec(setup.codec), window=setup.seconds)


def test_off_screen_speech_is_found_and_removed(clips, tmp_path):
    c = clips["voiceover"]
    assert speech_segments(c["wav"], SR), "the toy voice-over clip must contain detectable speech"
    wav, sr, trace = ThinkPipeline()(c["video"], audio=(c["wav"], SR))
    names = [s.name for s in trace.steps]
    assert names[:4] == ["plan", "generate", "detect", "remove"] and names[-1] == "verify"
    detect = trace.find("detect")[0]
    assert detect.measurements["voice_over"] is True and detect.measurements["spans"]
    seg = detect.measurements["evidence"]["segments"][0]
    assert seg["talking"] < detect.measurements["evidence"]["talking_threshold"]
    assert sr == SR and wav.shape == c["wav"].shape
    assert speech_segments(wav, sr) == []
    assert trace.find("verify")[0].measurements["evidence"]["segments"] == ()
    # Outside the spans (padded) the track is untouched up to STFT round-off.
    s0 = int((detect.measurements["spans"][0][0] - 0.3) * SR)
    if s0 > 0:
        torch.testing.assert_close(wav[:, :s0], c["wav"][:, :s0], atol=1e-4, rtol=0)
    # The trace is JSON with the four chain-of-thought parts per step.
    path = trace.save(tmp_path / "t.think.json")
    doc = json.loads(path.read_text())
    assert doc["mode"] == "audio" and doc["settings"]["reasoner"] == "perception"
    for step in doc["steps"]:
        assert set(step) >= {"name", "round", "summary", "caption", "reasoning", "conclusion", "measurements"}
    det = next(s for s in doc["steps"] if s["name"] == "detect")
    assert "Speech segment 1" in det["caption"] and det["conclusion"].startswith("Voice-over")


def test_a_talking_face_keeps_its_speech(clips):
    c = clips["talk"]
    wav, sr, trace = ThinkPipeline()(c["video"], audio=c["audio"])
    detect = trace.find("detect")[0]
    assert detect.measurements["voice_over"] is False, detect.reasoning
    ev = detect.measurements["evidence"]
    assert ev["segments"][0]["talking"] >= ev["talking_threshold"]
    assert trace.outcome == "no voice-over" and not trace.find("remove")
    torch.testing.assert_close(wav, load_audio(c["audio"])[0])


@pytest.mark.parametrize("post", ["rm", "rep"])
def test_silent_result_post_processing(clips, post):
    c = clips["voiceover"]
    speech_only = c["speech"]  # nothing but the voice-over: removing it leaves silence
    wav, _, trace = ThinkPipeline()(c["video"], audio=(speech_only, SR), settings=ThinkSettings(post=post))
    assert trace.find("silence")[0].measurements["silent"] is True
    assert trace.find("post")[0].backend == post
    if post == "rm":
        assert wav.abs().max() == 0
    else:
        torch.testing.assert_close(wav, speech_only)


def test_neg_post_and_generation_with_a_v2a_model(clips, tiny_v2a):
    c = clips["voiceover"]
    with pytest.raises(ConfigError, match="--post neg"):
        ThinkPipeline()(c["video"], audio=(c["speech"], SR), settings=ThinkSettings(post="neg"))
    pipe = ThinkPipeline(v2a=tiny_v2a)
    wav, sr, trace = pipe(c["video"], audio=(c["speech"], SR), settings=ThinkSettings(post="neg", steps=2))
    post = trace.find("post")[0]
    assert post.backend == "neg" and "human voice" in post.conclusion
    assert sr == SR and wav.shape == c["speech"].shape and wav.abs().max() > 0
    # Generation mode: V2A output is step 1; the whole procedure runs and records it.
    wav, sr, trace = pipe(c["video"], settings=ThinkSettings(steps=2, seed=1))
    assert trace.mode == "generate" and trace.find("generate")[0].backend == "v2a"
    assert sr == tiny_v2a.sample_rate and wav.shape[-1] == pytest.approx(c["clip"].truth["duration"] * sr, abs=2)
    with pytest.raises(ConfigError, match="no V2A model"):
        ThinkPipeline()(c["video"])


def test_regeneration_suppresses_spans_in_the_mel_latent(clips, tiny_v2a):
    video = clips["voiceover"]["video"]
    plain, _ = regenerate(tiny_v2a, video, [], seed=3, steps=2, duration=2.0)
    cut, info = regenerate(tiny_v2a, video, [(0.6, 1.2)], seed=3, steps=2, duration=2.0)
    assert "log-mel latent" in info["suppressed"] and plain.shape == cut.shape
    sr = tiny_v2a.sample_rate
    inside = slice(int(0.6 * sr), int(1.2 * sr))
    assert cut[:, inside].square().mean() <= plain[:, inside].square().mean() * 1.05


def test_span_clamp_and_waveform_suppression():
    v = torch.arange(40.0).reshape(10, 4)
    mask = span_mask(10, 10.0, [(0.5, 0.7)], pad=0.0)
    assert mask.tolist() == [False] * 5 + [True] * 2 + [False] * 3
    out = clamp_frames(v, mask)
    ref = v[~mask].quantile(CLAMP_QUANTILE, dim=0)
    torch.testing.assert_close(out[mask], torch.minimum(v[mask], ref))
    torch.testing.assert_close(out[~mask], v[~mask])
    sr = 16000
    t = torch.arange(2 * sr) / sr
    noise = 0.01 * torch.randn(1, 2 * sr, generator=torch.Generator().manual_seed(0))
    tone = torch.where((t > 0.8) & (t < 1.2), 0.5 * torch.sin(2 * torch.pi * 440 * t), torch.zeros_like(t))
    out = suppress_spans(noise + tone, sr, [(0.8, 1.2)])
    mid = slice(int(0.9 * sr), int(1.1 * sr))
    assert out[:, mid].square().mean().sqrt() < 0.03  # back to about the noise level (0.01), tone (0.35) gone
    assert out[:, mid].square().mean().sqrt() > 0.003  # ...but not a hole


def test_max_rounds_repeats_detect_remove_check(clips):
    c = clips["voiceover"]

    class Halve:  # a weak remover: each round only halves the track, so the speech is found again
        name = "halve"

        def remove(self, wav, sr, spans):
            return wav * 0.5, {"backend": "halve"}

    pipe = ThinkPipeline(remover=Halve())
    _, _, trace = pipe(c["video"], audio=(c["wav"], SR), settings=ThinkSettings(max_rounds=3))
    assert [s.round for s in trace.find("detect")] == [1, 2, 3] and len(trace.find("remove")) == 3
    _, _, trace = pipe(c["video"], audio=(c["wav"], SR), settings=ThinkSettings(max_rounds=1))
    assert len(trace.find("detect")) == 1
    with pytest.raises(ConfigError):
        ThinkSettings(max_rounds=0)
    with pytest.raises(InputError, match="video not found"):
        pipe(c["video"].with_name("nope.mp4"), audio=(c["wav"], SR))


def test_cli_single_batch_and_errors(clips, tmp_path, capsys):
    c = clips["voiceover"]
    out = tmp_path / "one" / "clean.wav"
    assert main(["think", str(c["video"]), "--audio", str(c["audio"]), "-o", str(out), "--mux",
                 str(tmp_path / "one" / "clean.mp4")]) == 0
    doc = json.loads((tmp_path / "one" / "clean.think.json").read_text())
    assert doc["outcome"].startswith("voice-over removed") and (tmp_path / "one" / "clean.mp4").is_file()
    assert doc["settings"]["model"] is None  # the user's track and no V2A model: nothing bundled was used
    assert speech_segments(*load_audio(out)) == []
    # Batch: a folder of videos and a folder of tracks named like them.
    vids, auds = tmp_path / "vids", tmp_path / "auds"
    vids.mkdir()
    auds.mkdir()
    for kind in ("voiceover", "talk"):
        (vids / f"{kind}.mp4").write_bytes(clips[kind]["video"].read_bytes())
        (auds / f"{kind}.wav").write_bytes(clips[kind]["audio"].read_bytes())
    assert main(["think", str(vids), "--audio", str(auds), "-o", str(tmp_path / "outs")]) == 0
    talk = json.loads((tmp_path / "outs" / "talk.think.json").read_text())
    assert talk["outcome"] == "no voice-over" and (tmp_path / "outs" / "voiceover.wav").is_file()
    capsys.readouterr()
    for argv, what in (([str(tmp_path / "missing.mp4"), "--audio", str(c["audio"])], "video not found"),
                       ([str(c["video"]), "--audio", str(c["audio"]), "--reasoner", "oracle"], "unknown reasoner"),
                       ([str(c["video"]), "--audio", str(c["audio"]), "--max-rounds", "0"], "max-rounds"),
                       ([str(c["video"]), "--audio", str(tmp_path / "none.wav")], "sound track not found"),
                       ([str(c["video"]), "--audio", str(c["audio"]), "--post", "neg", "--model",
                         str(tmp_path / "no_model")], "config.json")):
        assert main(["think", *argv, "-o", str(tmp_path / "e.wav")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("deepaudio: error:") and what in err[0], err
    assert np.all([not p.name.startswith(".") for p in (tmp_path).iterdir()])  # no temporary files left
