"""Offline means offline: every command runs with the network cut off at the socket layer.

A guard replaces ``socket.socket.connect``, ``socket.create_connection`` and ``socket.getaddrinfo``
with functions that record the attempt and raise; each command then runs in-process on small inputs and
must succeed with no attempt recorded. onnxruntime's telemetry lives in native code, out of the guard's
reach, so the DNSMOS run is also checked for its traces (a ``~/.cache/Microsoft`` device id, a ``.ses``
file in the temp folder) in a fresh process with a private cache and temp folder.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from deepaudio.cli.main import main
from deepaudio.io import testmedia as tm

SENTENCES = ["the cat sat on the mat", "we walked home in the rain"]


@pytest.fixture
def no_network(monkeypatch):
    attempts: list[str] = []

    def refuse(what):
        def fn(*args, **kwargs):
            attempts.append(f"{what}{args[1:2] if what == 'connect' else args[:2]}")
            raise OSError(f"network access attempted during an offline test ({what})")
        return fn

    monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    return attempts


def _voice(path: Path, seconds: float = 2.0, pitch: float = 140.0) -> Path:
    t = np.arange(int(seconds * 24000)) / 24000
    x = 0.3 * np.sign(np.sin(2 * np.pi * pitch * t)) * (np.sin(2 * np.pi * 3 * t) > -0.3)
    sf.write(path, x.astype(np.float32), 24000)
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("offline")
    tm.moving_square_video(root / "clip.mp4", duration=1.0, fps=10)
    _voice(root / "ref.wav")
    (root / "subs.srt").write_text("1\n00:00:00,100 --> 00:00:00,900\nhello\n\n")
    for d in ("gen", "refs"):
        (root / d).mkdir()
    for k, text in enumerate(SENTENCES):
        _voice(root / "gen" / f"s{k}.wav", 1.5, 130 + 10 * k)
        _voice(root / "refs" / f"s{k}.wav", 1.5, 135 + 10 * k)
        (root / "refs" / f"s{k}.txt").write_text(text)
    (root / "train.csv").write_text("audio_path,text\n" + "".join(f"gen/s{k}.wav,{t}\n" for k, t in
                                                                  enumerate(SENTENCES)))
    from deepaudio.models.vocoders.vocos import VOCOS_PRESETS, Vocos

    cfg = VOCOS_PRESETS.get("tiny")
    (root / "vocos").mkdir()
    torch.save(Vocos(cfg).state_dict(), root / "vocos" / "pytorch_model.bin")
    (root / "vocos" / "config.yaml").write_text(yaml.safe_dump(_vocos_yaml(cfg)))
    return root


def _vocos_yaml(cfg) -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    from test_vocoders_convert import _vocos_yaml as official_yaml

    return official_yaml(cfg)


def _parity_case() -> str | None:
    folder = Path(__file__).resolve().parents[1].parent / "shared" / "parity"
    cases = sorted(folder.glob("mm_mel16k.safetensors")) if folder.is_dir() else []
    return str(cases[0]) if cases else None


COMMANDS = {
    "info": ["info"],
    "probe": ["probe", "{M}/clip.mp4"],
    "tts": ["tts", "--text", "hello there", "--ref-audio", "{M}/ref.wav", "--ref-text", "hi", "--nfe", "1",
            "-o", "{O}/tts.wav"],
    "v2a": ["v2a", "{M}/clip.mp4", "--steps", "1", "-o", "{O}/v2a.wav"],
    "dub": ["dub", "--video", "{M}/clip.mp4", "--srt", "{M}/subs.srt", "--ref-audio", "{M}/ref.wav", "--ref-text",
            "hi", "--nfe", "1", "--steps", "1", "-o", "{O}/dub.wav"],
    "run": ["run", "--video", "{M}/clip.mp4", "--instruction", 'Dub this clip saying "good morning"',
            "--ref-audio", "{M}/ref.wav", "--ref-text", "hi", "--nfe", "1", "--steps", "1", "-o", "{O}/run.wav"],
    "think": ["think", "{M}/clip.mp4", "--audio", "{M}/ref.wav", "-o", "{O}/think.wav"],
    "eval": ["eval", "--task", "tts", "--gen", "{M}/gen", "--ref", "{M}/refs", "--metrics", "mcd,silence_rate",
             "-o", "{O}/eval"],
    "convert": ["convert", "vocos", "{M}/vocos", "-o", "{O}/vocos"],
    "train": ["train", "tts", "--data", "{M}/train.csv", "--out", "{O}/train", "--config", "tiny", "--steps", "2",
              "--batch-frames", "600", "--warmup", "1", "--no-mel-cache", "--device", "cpu"],
    "verify-parity": ["verify-parity", "{P}"],
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_runs_with_the_network_cut_off(name, media, tmp_path, no_network, monkeypatch):
    if name == "verify-parity" and _parity_case() is None:
        pytest.skip("shared/parity reference vectors are not beside the checkout")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    argv = [a.replace("{M}", str(media)).replace("{O}", str(tmp_path)).replace("{P}", _parity_case() or "")
            for a in COMMANDS[name]]
    code = main(argv)
    assert code == 0, f"{name} exited {code}"
    assert no_network == [], f"{name} tried the network: {no_network}"


def test_network_guard_covers_every_command():
    from deepaudio.cli.main import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    # data makers: tests of their own, offline; serve listens on loopback (Gradio analytics off, its handlers and
    # browser tests run with the machine's closed network) and is not run under the socket guard
    covered = set(COMMANDS) | {"demo", "toyworld", "speech-corpus", "serve"}
    assert set(sub.choices) <= covered, sorted(set(sub.choices) - covered)


GUARDED = """
import socket, sys
attempts = []
def refuse(*a, **k):
    attempts.append(a[:2])
    raise OSError("network access attempted")
socket.socket.connect = socket.socket.connect_ex = socket.create_connection = socket.getaddrinfo = refuse
from deepaudio.cli.main import main
code = main(sys.argv[1:])
sys.exit(3 if attempts else code)
"""


@pytest.mark.slow
def test_dnsmos_is_offline_and_leaves_no_telemetry_traces(media, tmp_path):
    """DNSMOS (onnxruntime) under the socket guard in a fresh process; onnxruntime's telemetry is native code,
    out of the guard's reach, so its traces are checked too: a device id under the cache folder, a ``.ses``
    session file in the temp folder."""
    cache, tmp = tmp_path / "cache", tmp_path / "tmp"
    cache.mkdir()
    tmp.mkdir()
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "HOME": str(tmp_path), "TMPDIR": str(tmp),
           "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("ORT_DISABLE_TELEMETRY", None)
    proc = subprocess.run([sys.executable, "-c", GUARDED, "eval", "--task", "tts", "--gen",
                           str(media / "gen"), "--metrics", "dnsmos", "-o", str(tmp_path / "ev")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert not list(cache.rglob("Microsoft*")), sorted(cache.rglob("*"))  # (matplotlib keeps a font cache)
    assert list(tmp.iterdir()) == [], sorted(tmp.iterdir())  # no .ses, no torchinductor_*, no deepaudio-cache-*
