"""V2A video features cached by content hash: a second run with a new prompt does not encode the video."""

from __future__ import annotations

import shutil

import pytest
import torch

from deepaudio.convert.registry import get_converter
from deepaudio.pipelines.v2a import V2APipeline
from deepaudio.pipelines.v2a_cache import FeatureCache, encoder_fingerprint
from test_v2a_official import make_official_files


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory):
    root, files, _ = make_official_files(tmp_path_factory.mktemp("official"))
    return get_converter("mmaudio-pipeline").fn(files, root / "v2a", {})


def _counting(pipe):
    calls = []
    real = pipe.encoder.encode_video

    def encode_video(a, b):
        calls.append(a.shape)
        return real(a, b)

    pipe.encoder.encode_video = encode_video
    return calls


def test_second_run_with_new_prompt_skips_the_encoders(pipeline_dir, tmp_path):
    from deepaudio.io.testmedia import moving_square_video

    video = moving_square_video(tmp_path / "in.mp4", duration=1.5, width=64, height=48).path
    pipe = V2APipeline.from_pretrained(pipeline_dir)
    pipe.feature_cache = FeatureCache(tmp_path / "cache")
    calls = _counting(pipe)
    wav1, _ = pipe(video, prompt="rain", steps=2, seed=0)
    assert len(calls) == 1 and len(list((tmp_path / "cache").rglob("*.safetensors"))) == 1
    wav2, _ = pipe(video, prompt="a dog barks", steps=2, seed=0)
    assert len(calls) == 1  # hit: no decode, no encode
    again, _ = pipe(video, prompt="rain", steps=2, seed=0)
    assert torch.equal(again, wav1) and torch.isfinite(wav2).all()  # cached features give the same audio
    # a fresh pipeline (new process) finds the file; the same bytes under another name are the same video
    other = tmp_path / "copy.mp4"
    shutil.copy(video, other)
    pipe2 = V2APipeline.from_pretrained(pipeline_dir)
    pipe2.feature_cache = FeatureCache(tmp_path / "cache")
    calls2 = _counting(pipe2)
    assert torch.equal(pipe2(other, prompt="rain", steps=2, seed=0)[0], wav1) and calls2 == []


def test_changed_video_other_encoder_or_damaged_file_miss(pipeline_dir, tmp_path):
    from deepaudio.io.testmedia import moving_square_video

    video = moving_square_video(tmp_path / "in.mp4", duration=1.5, width=64, height=48).path
    pipe = V2APipeline.from_pretrained(pipeline_dir)
    pipe.feature_cache = FeatureCache(tmp_path / "cache")
    calls = _counting(pipe)
    pipe(video, steps=1, seed=0)
    (file,) = (tmp_path / "cache").rglob("*.safetensors")
    file.write_bytes(b"not a safetensors file")  # damaged: recomputed and rewritten
    pipe(video, steps=1, seed=0)
    assert len(calls) == 2 and file.stat().st_size > 100
    moved = moving_square_video(tmp_path / "in2.mp4", duration=1.5, width=64, height=48, beep_frames=(5,)).path
    pipe(moved, steps=1, seed=0)
    assert len(calls) == 3
    fp = encoder_fingerprint(pipe.encoder)
    with torch.no_grad():
        next(pipe.encoder.parameters()).view(-1)[0] += 1.0
    assert encoder_fingerprint(pipe.encoder) != fp
    # a fine-tune that moved the middle of a weight (not its first or last values) is another encoder too
    fp = encoder_fingerprint(pipe.encoder)
    big = max(pipe.encoder.parameters(), key=lambda p: p.numel())
    with torch.no_grad():
        big.view(-1)[big.numel() // 2: big.numel() // 2 + big.numel() // 100] += 0.5  # 1 % of it
    assert encoder_fingerprint(pipe.encoder) != fp
    pipe._encoder_id = None  # the pipeline computes it once; a new checkpoint is a new pipeline
    pipe(video, steps=1, seed=0)
    assert len(calls) == 4


def test_unwritable_cache_costs_only_the_cache(pipeline_dir, tmp_path, capsys):
    from deepaudio.io.testmedia import moving_square_video

    video = moving_square_video(tmp_path / "in.mp4", duration=1.5, width=64, height=48).path
    blocker = tmp_path / "file"
    blocker.write_text("x")
    pipe = V2APipeline.from_pretrained(pipeline_dir)
    pipe.feature_cache = FeatureCache(blocker / "cache")  # a folder under a file cannot be made
    wav, _ = pipe(video, steps=1, seed=0)
    assert torch.isfinite(wav).all() and "feature cache not written" in capsys.readouterr().err


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    from deepaudio.pipelines.v2a_cache import default_cache_dir

    monkeypatch.setenv("DEEPAUDIO_FEATURE_CACHE", "off")
    assert default_cache_dir() is None
    monkeypatch.setenv("DEEPAUDIO_FEATURE_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("DEEPAUDIO_FEATURE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert default_cache_dir() == tmp_path / "x" / "deepaudio" / "v2a-features"
