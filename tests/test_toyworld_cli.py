"""``deepaudio toyworld`` end to end: a tiny run writes decodable videos, stems, ground truth and manifests."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
import soundfile as sf

from deepaudio.cli.main import main
from deepaudio.data.toyworld import MANIFEST_COLUMNS, load_meta
from deepaudio.io.video import probe_video, read_frames

SPEAKERS = ["flite-kal", "flite-slt", "espeak-us-f2", "flite-rms"]


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory):
    if shutil.which("flite") is None or shutil.which("espeak-ng") is None:
        pytest.skip("flite / espeak-ng are not installed")
    out = tmp_path_factory.mktemp("toyworld")
    args = ["toyworld", "--out", str(out), "--n", "6", "--preset", "tiny", "--seed", "5", "--no-progress",
            "--split-fractions", "0.5,0.25,0.25", "--unseen-speakers", "--kinds", "bounce", "silent", "dub",
            "voiceover", "--speakers", *SPEAKERS]
    assert main(args) == 0
    return out, args


def test_tiny_run_writes_decodable_videos_and_stems(world_dir):
    out, _ = world_dir
    metas = load_meta(out)
    assert [m["index"] for m in metas] == list(range(6))
    assert {m["split"] for m in metas} == {"train", "val", "test"}
    assert json.loads((out / "toyworld.json").read_text())["config"]["unseen_speakers"] is True
    for m in metas:
        folder = out / "clips" / m["split"] / m["id"]
        silent, with_audio = probe_video(folder / "video.mp4"), probe_video(folder / "video_audio.mp4")
        assert not silent.has_audio and with_audio.has_audio
        assert silent.n_frames == m["n_frames"] and (silent.width, silent.height) == (96, 96)
        frames, _ = read_frames(folder / "video.mp4")
        assert frames.shape == (m["n_frames"], 96, 96, 3)
        amb, sr = sf.read(folder / "ambience_16k.wav")
        assert sr == 16000 and len(amb) == round(m["duration"] * 16000)
        if m["kind"] == "silent":
            assert not amb.any()
        if m["speech"]:
            assert (folder / "transcript.txt").read_text().strip() == m["transcript"]
            assert sf.info(folder / "speech_24k.wav").samplerate == 24000


def test_manifests_cover_tasks_and_splits(world_dir):
    out, _ = world_dir
    total = 0
    for task, cols in MANIFEST_COLUMNS.items():
        for split in ("train", "val", "test"):
            with open(out / "manifests" / f"{task}_{split}.csv", newline="") as fh:
                reader = csv.DictReader(fh)
                assert tuple(reader.fieldnames) == cols
                rows = list(reader)
            for row in rows:
                for col in ("video", "audio", "audio_path", "speech", "ambience", "prompt_audio"):
                    if col in row:
                        assert (out / "manifests" / row[col]).is_file(), row[col]
            total += len(rows) if task == "v2a" else 0
    assert total == 6
    header = json.loads((out / "toyworld.json").read_text())
    assert header["seed"] == 5 and "text_source" in header


def test_rerun_skips_written_clips_and_refuses_other_settings(world_dir, capsys):
    out, args = world_dir
    before = {p: p.stat().st_mtime_ns for p in out.glob("clips/*/*/meta.json")}
    assert main(args) == 0
    assert "skipped 6" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in out.glob("clips/*/*/meta.json")} == before
    bad = [a if a != "5" else "6" for a in args]
    assert main(bad) == 2
    assert "seed" in capsys.readouterr().err
    assert main([a for a in args if a != "--unseen-speakers"]) == 2  # the message names the setting that differs
    assert "unseen_speakers: True there, False here" in capsys.readouterr().err


def test_user_errors_exit_with_code_2(tmp_path, capsys):
    assert main(["toyworld", "--out", str(tmp_path / "w"), "--n", "1", "--kinds", "explosions"]) == 2
    assert "explosions" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["toyworld", "--out", str(tmp_path / "file"), "--n", "1"]) == 2
    assert "folder" in capsys.readouterr().err
