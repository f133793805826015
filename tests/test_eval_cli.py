"""`deepaudio eval` end to end on real speech, and the benchmark list loaders."""

from __future__ import annotations

import json
import shutil

import pytest

from deepaudio.cli.main import main
from deepaudio.eval import samples
from deepaudio.eval.items import list_format, load_items


def _utts():
    try:
        return samples.librivox_utterances()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(str(exc))


def test_eval_ground_truth_against_itself(tmp_path, capsys):
    gen, ref, out = tmp_path / "gen", tmp_path / "ref", tmp_path / "out"
    gen.mkdir()
    ref.mkdir()
    for i, (wav, text) in enumerate(_utts()[1:3]):
        shutil.copy(wav, gen / f"utt{i}.wav")
        shutil.copy(wav, ref / f"utt{i}.wav")
        (ref / f"utt{i}.txt").write_text(text)
    shutil.copy(_utts()[0][0], gen / "orphan.wav")  # generated without a reference: listed, not dropped
    rc = main(["eval", "--task", "v2s", "--gen", str(gen), "--ref", str(ref), "-o", str(out),
               "--metrics", "wer,mcd,mcd_sl,silence_rate,emo_sim"])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["wer"] < 0.15 and summary["wer_n"] == 2
    assert summary["mcd"] == 0.0 and summary["mcd_sl"] == 0.0
    assert summary["silence_rate"] < 0.2
    assert summary["emo_sim"] is None and "--emotion-model" in summary["emo_sim_unavailable"]
    assert "whisper" in summary["wer_backend"] and "fastdtw" in summary["mcd_backend"]
    assert any("orphan: missing reference" in p for p in summary["problems"])
    table = (out / "report.md").read_text()
    assert "| Method | WER ↓ |" in table and "EMO-SIM" in table
    csv_text = (out / "items.csv").read_text()
    assert csv_text.splitlines()[0].startswith("name,setting,gen,ref") and "orphan" in csv_text
    for png in ("distributions.png", "spectrograms.png"):
        assert (out / "plots" / png).read_bytes()[:4] == b"\x89PNG"
    assert "wer" in capsys.readouterr().out


def test_eval_rejects_unknown_metric(tmp_path, capsys):
    (tmp_path / "g").mkdir()
    assert main(["eval", "--task", "tts", "--gen", str(tmp_path / "g"), "-o", str(tmp_path / "o"),
                 "--metrics", "wer,bleu"]) == 2
    assert "bleu" in capsys.readouterr().err
    assert main(["eval", "--task", "tts", "--gen", str(tmp_path / "nope"), "-o", str(tmp_path / "o")]) == 2
    assert main(["eval", "--task", "v2a", "--gen", str(tmp_path / "g"), "-o", str(tmp_path / "o"),
                 "--gen-features", str(tmp_path)]) == 2
    assert "--ref-features" in capsys.readouterr().err
    import soundfile as sf

    sf.write(tmp_path / "g" / "a.wav", [0.0] * 1600, 16000)
    (tmp_path / "g" / "a.txt").write_text("hello")
    assert main(["eval", "--task", "tts", "--gen", str(tmp_path / "g"), "-o", str(tmp_path / "o"),
                 "--metrics", "wer", "--asr-model", str(tmp_path / "no-such-model")]) == 2
    assert "no-such-model" in capsys.readouterr().err


def test_v2c_list_settings_and_missing(tmp_path):
    root = tmp_path / "v2c" / "Movie" / "Movie_speeches" / "Anna" / "00"
    root.mkdir(parents=True)
    for n in ("Anna-00-0001", "Anna-00-0002"):
        (root / f"{n}.wav").write_bytes(b"")
    base = "/data/v2cdata/Movie/Movie_speeches/Anna/00"
    lst = tmp_path / "v2c_test.lst"
    lst.write_text(
        f"{base}/Anna-00-0001.wav\tNone\tHi\t{base}/Anna-00-0001.wav\t/v/0001.mp4\tHi there\n"
        f"{base}/Anna-00-0002.wav\tNone\tYo\t{base}/Anna-00-0001.wav\t/v/0001.mp4\tHi there\n"
        f"/grid/s1/bbaf2n.wav\tNone\tBin blue\t{base}/Anna-00-0002.wav\t/v/0002.mp4\tSecond line\n")
    gen = tmp_path / "gen"
    gen.mkdir()
    (gen / "00000000.wav").write_bytes(b"")
    assert list_format(lst) == "v2c"
    items = load_items(gen, lst, data_root=tmp_path / "v2c")
    assert [i.setting for i in items] == ["1.0", "2.0", "3.0"]
    assert items[0].ref == root / "Anna-00-0001.wav" and items[0].text == "Hi there"
    assert not items[0].problems
    assert any("missing generated" in p for p in items[1].problems)
    assert any("missing prompt" in p for p in items[2].problems)


def test_librispeech_pc_and_vggsound_lists(tmp_path):
    lst = tmp_path / "librispeech_pc_test_clean_cross_sentence.lst"
    lst.write_text("1089-134686-0000\t10.4\tHe hoped.\t1089-134686-0001\t3.2\tStuff it into you.\n")
    gen = tmp_path / "gen"
    gen.mkdir()
    (gen / "1089-134686-0001.wav").write_bytes(b"")
    assert list_format(lst) == "librispeech-pc"
    (item,) = load_items(gen, lst, data_root=tmp_path / "ls")
    assert item.prompt == tmp_path / "ls" / "1089" / "134686" / "1089-134686-0000.flac"
    assert item.text == "Stuff it into you." and any("missing reference" in p for p in item.problems)

    csv_path = tmp_path / "vggsound.csv"
    csv_path.write_text("---g-f_I2yQ,1,people marching,test\nabc,30,dog barking,train\nxyz,7,rain,test\n")
    (gen / "---g-f_I2yQ_000001.flac").write_bytes(b"")
    items = load_items(gen, csv_path)
    assert [i.name for i in items] == ["---g-f_I2yQ_000001", "xyz_000007"]
    assert items[0].gen is not None and items[1].problems


def test_eval_video_metrics(tmp_path):
    import numpy as np
    import soundfile as sf

    from deepaudio.eval.sync import speech_envelope
    from deepaudio.io.video import write_video

    gen, vid = tmp_path / "gen", tmp_path / "vid"
    gen.mkdir()
    vid.mkdir()
    # flashes in the picture and clicks in the sound at the same instants
    events, fps, sr = [0.4, 1.2, 1.72, 2.6, 3.28], 25, 16000
    frames = np.full((100, 32, 32, 3), 40, np.uint8)
    clicks = np.random.default_rng(1).normal(size=4 * sr).astype(np.float32) * 0.001
    for t in events:
        frames[int(round(t * fps))] = 230
        clicks[int(t * sr):int(t * sr) + 800] += 0.5 * np.exp(-np.arange(800) / 200)
    write_video(vid / "flash.mp4", frames, fps)
    sf.write(gen / "flash.wav", clicks, sr)
    # real speech with a mouth contour that leads the sound by two frames
    wav, wsr = samples._read(_utts()[1][0])
    sf.write(gen / "talk.wav", wav[0].numpy(), wsr)
    n = int(wav.shape[-1] / wsr * fps)
    write_video(vid / "talk.mp4", np.full((n, 32, 32, 3), 90, np.uint8), fps)
    env = speech_envelope(wav, wsr, fps, n)
    np.save(vid / "talk.mouth.npy", np.concatenate([env[2:], np.zeros(2)]))

    out = tmp_path / "out"
    assert main(["eval", "--task", "v2s", "--gen", str(gen), "--video", str(vid), "-o", str(out),
                 "--metrics", "av_align_ms,lip_sync"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["av_align_ms"] < 30 and s["av_align_ms_n"] == 1  # the still talking-head video has no motion peaks
    assert s["lip_sync"] > 0.95 and s["lip_sync_n"] == 1
    assert "80.0" in (out / "items.csv").read_text()  # lip offset of two frames at 25 fps
    assert any("flash: lip_sync skipped" in p and "mouth contour" in p for p in s["problems"])


def test_eval_v2c_list_end_to_end(tmp_path):
    utts = _utts()
    (target, text), (prompt, ptext) = utts[4], utts[2]
    lst = tmp_path / "v2c_test.lst"
    lst.write_text(f"{prompt}\tNone\t{ptext}\t{target}\tNone\t{text}\n")
    gen = tmp_path / "gen"
    gen.mkdir()
    shutil.copy(target, gen / "00000000.wav")
    out = tmp_path / "out"
    assert main(["eval", "--task", "v2s", "--gen", str(gen), "--ref", str(lst), "-o", str(out),
                 "--metrics", "wer,spk_sim,mcd"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["label"] == "gen (Dub 2.0)" and s["mcd"] == 0.0 and s["spk_sim"] > 0.99 and s["wer"] < 0.2
    assert "| gen (Dub 2.0) |" in (out / "report.md").read_text()


def test_lip_sync_runs_the_mouth_tracker_when_no_contour_is_stored(tmp_path):
    """A toy-world talking face (cartoon mouth following its real synthesised speech): no NAME.mouth.npy."""
    import csv
    import dataclasses

    import numpy as np
    import soundfile as sf

    from deepaudio.data.toyworld import WORLD_PRESETS, ToyWorld, write_toy_video

    clip = ToyWorld(dataclasses.replace(WORLD_PRESETS.get("tiny"), kinds=("talk",)), seed=5).clip(0, "test")
    gen, vid = tmp_path / "gen", tmp_path / "vid"
    gen.mkdir()
    vid.mkdir()
    write_toy_video(vid / "talk.mp4", clip.frames, clip.truth["fps"])  # tagged: the cartoon detector may run
    sf.write(gen / "talk.wav", clip.speech, clip.truth["sr_speech"])
    sf.write(gen / "other.wav", np.roll(clip.speech, len(clip.speech) // 3), clip.truth["sr_speech"])
    shutil.copy(vid / "talk.mp4", vid / "other.mp4")
    out = tmp_path / "out"
    assert main(["eval", "--task", "v2s", "--gen", str(gen), "--video", str(vid), "-o", str(out),
                 "--metrics", "lip_sync"]) == 0
    assert not list(vid.glob("*.mouth.*"))
    s = json.loads((out / "summary.json").read_text())
    assert s["lip_sync_n"] == 2 and "mouth tracker" in s["lip_sync_backend"], s
    items = {r["name"]: r for r in csv.DictReader((out / "items.csv").open())}
    own, shifted = float(items["talk"]["lip_sync"]), float(items["other"]["lip_sync"])
    assert own > 0.6 and own > shifted + 0.2, (own, shifted)
