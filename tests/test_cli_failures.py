"""How failures end: unexpected errors point to --debug, Ctrl-C while importing prints no traceback,
``eval`` with nothing scored exits 2, and the Python API raises the project's error type for bad arguments."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
import torch

from deepaudio.cli import main as cli_main
from deepaudio.errors import DeepAudioError


def test_unexpected_error_is_one_line_pointing_to_debug(monkeypatch, capsys, tmp_path):
    import deepaudio.cli.cmd_info as info

    def boom(args):
        raise ValueError("an internal mistake\nspanning lines")

    monkeypatch.setattr(info, "run", boom)
    assert cli_main.main(["info"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--debug" in err[0] and "ValueError" in err[0], err
    assert cli_main.main(["--debug", "info"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("deepaudio: error:")


@pytest.mark.parametrize("exc,code,text", [
    (OSError(28, "No space left on device", "/x/out.wav"), 2, "free some space"),
    (OSError(18, "Invalid cross-device link", "/x/out.wav"), 2, "same filesystem"),
    (MemoryError(), 2, "out of memory"),
    (np.core._exceptions._ArrayMemoryError((10**6, 10**6), np.dtype("float64")), 2, "out of memory"),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), 2, "UTF-8"),
    (KeyError("x"), 1, "--debug"),
])
def test_failures_are_classified(exc, code, text):
    got, line = cli_main.describe_failure(exc)
    assert got == code and text in line and "\n" not in line


def test_ctrl_c_while_importing_prints_no_traceback(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "deepaudio.cli.main", "tts", "--help"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.6)  # inside build_parser: torch and the command modules are being imported
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert "Traceback" not in err, err
    assert proc.returncode in (130, 0, -signal.SIGINT), (proc.returncode, err)


def test_eval_with_nothing_scored_exits_2(tmp_path, capsys):
    gen = tmp_path / "gen"
    gen.mkdir()
    (gen / "a.wav").write_bytes(b"RIFF garbage, not audio")
    code = cli_main.main(["eval", "--task", "tts", "--gen", str(gen), "--metrics", "silence_rate",
                          "-o", str(tmp_path / "ev")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("deepaudio: error:") and "nothing could be scored" in err[-1], err


@pytest.fixture(scope="module")
def tts():
    from deepaudio.assets import bundled_dir
    from deepaudio.pipelines.tts import TTSPipeline

    return TTSPipeline.from_pretrained(bundled_dir("tts"))


def _ref(seconds=2.0):
    t = torch.arange(int(seconds * 24000)) / 24000
    return 0.3 * torch.sign(torch.sin(2 * torch.pi * 140 * t)) * (torch.sin(2 * torch.pi * 3 * t) > -0.3)


@pytest.mark.parametrize("kwargs", [
    {"nfe": 0}, {"nfe": 2.5}, {"nfe": True}, {"cfg_strength": float("nan")}, {"sway": float("inf")},
    {"speed": 0.0}, {"speed": "fast"}, {"duration": float("nan")}, {"seed": 2**64}, {"seed": -1},
    {"text": 42}, {"text": None}, {"text": "你好"}, {"text": "hi\udcff"}, {"ref_text": "مرحبا"},
    {"ref_audio": (torch.zeros(1, 2, 48000), 24000)}, {"ref_audio": (_ref(), 0)}, {"ref_audio": 3.5},
    {"ref_audio": (_ref(0.2), 24000)}, {"ref_audio": (torch.zeros(48000), 24000)},
    {"ref_audio": (torch.full((48000,), float("nan")), 24000)},
    {"energy": torch.full((100,), float("nan"))},
], ids=lambda kw: next(iter(kw)) + "=" + repr(next(iter(kw.values())))[:20])
def test_tts_api_raises_the_project_error(tts, kwargs):
    call = {"text": "hello there", "ref_audio": (_ref(), 24000), "ref_text": "hi", "nfe": 1, **kwargs}
    with pytest.raises(DeepAudioError):
        tts(call.pop("text"), call.pop("ref_audio"), **call)


def test_save_audio_refuses_nan_from_the_api(tmp_path):
    from deepaudio.io.audio import save_audio

    with pytest.raises(DeepAudioError, match="NaN"):
        save_audio(tmp_path / "x.wav", torch.full((1, 100), float("nan")), 24000)
    assert not list(tmp_path.iterdir())


def test_long_reference_is_cut_and_says_so(tts, tmp_path, capsys):
    path = tmp_path / "long.wav"
    sf.write(path, np.tile(_ref(2.0).numpy(), 20), 24000)  # 40 s
    ref = tts._reference(path, "hi")
    assert ref.wav.numel() <= 15.05 * 24000
    err = capsys.readouterr().err
    assert "longer than 15 s" in err and "--ref-text as given" in err


@pytest.mark.parametrize("kwargs", [{"steps": 0}, {"cfg_strength": float("nan")}, {"prompt": 3}, {"overlap": -1.0},
                                    {"seed": 2**70}, {"duration": float("inf")}, {"video": 12}],
                         ids=lambda kw: next(iter(kw)))
def test_v2a_api_raises_the_project_error(kwargs, v2a):
    pipe, clip = v2a
    call = {"video": clip, "steps": 1, **kwargs}
    with pytest.raises(DeepAudioError):
        pipe(call.pop("video"), **call)


@pytest.fixture(scope="module")
def v2a(tmp_path_factory):
    from deepaudio.assets import bundled_dir
    from deepaudio.io import testmedia as tm
    from deepaudio.pipelines.v2a import V2APipeline

    clip = tm.moving_square_video(tmp_path_factory.mktemp("v2a") / "c.mp4", duration=1.0, fps=10)
    return V2APipeline.from_pretrained(bundled_dir("v2a")), clip.path


@pytest.mark.parametrize("kwargs", [{"max_rounds": 0}, {"seed": -3}, {"steps": 0}, {"cfg_strength": float("inf")},
                                    {"post": "bogus"}], ids=lambda kw: next(iter(kw)))
def test_think_settings_raise_the_project_error(kwargs):
    from deepaudio.pipelines.think import ThinkSettings

    with pytest.raises(DeepAudioError):
        ThinkSettings(**kwargs)


def test_batch_accounting_is_honest(tmp_path, capsys):
    """Two inputs with one output name: the second fails with the reason (not counted done); --mux into the
    input folder refuses to overwrite the inputs; a CSV row with a bad duration fails that row only."""
    import shutil

    from deepaudio.io import testmedia as tm

    src = tmp_path / "in"
    src.mkdir()
    clip = tm.moving_square_video(src / "talk.mp4", duration=1.0, fps=10)
    shutil.copy(clip.path, src / "talk.mkv")
    assert cli_main.main(["v2a", str(src), "-o", str(tmp_path / "out"), "--steps", "1"]) == 2
    cap = capsys.readouterr()
    assert "2 items: 1 done, 0 skipped, 1 failed" in cap.out
    assert "talk.m" in cap.err and "already written for another input" in cap.err
    assert cli_main.main(["v2a", str(src), "-o", str(tmp_path / "out"), "--steps", "1"]) == 2
    assert "2 items: 0 done, 1 skipped, 1 failed" in capsys.readouterr().out  # skipped is not done
    assert cli_main.main(["v2a", str(src), "--mux", str(src), "--steps", "1"]) == 2
    cap = capsys.readouterr()
    assert "would overwrite the inputs" in cap.err and len(list(src.iterdir())) == 2
    (src / "list.csv").write_text("video,duration\ntalk.mp4,abc\ntalk.mkv,0.9\n")
    assert cli_main.main(["v2a", str(src / "list.csv"), "-o", str(tmp_path / "csv"), "--steps", "1"]) == 2
    cap = capsys.readouterr()
    assert "duration='abc'" in cap.err and "1 done" in cap.out and "1 failed" in cap.out
    assert sorted(p.name for p in (tmp_path / "csv").iterdir() if not p.name.startswith(".")) == [
        "batch_summary.json", "talk.json", "talk.wav"]
