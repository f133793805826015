"""The bad-input corpus: every case ends in one line on stderr, exit 2, and leaves nothing behind.

Each case runs the CLI in-process (``deepaudio.cli.main.main(argv)``; a few as a real process) against a
shared folder of hostile inputs and checks: exit code 2, exactly one stderr line starting with
``deepaudio: error:``, no traceback, no output file or output folder, no temporary file in the output
folder, the working folder or the temp folder, and every input byte-identical afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from deepaudio.assets import bundled_dir
from deepaudio.cli.main import main
from deepaudio.io import testmedia as tm
from deepaudio.offline import go_offline

go_offline()  # its private cache folder is made now, not inside a case's temp folder

BAD_UTF8 = "hi\udcff there"  # how Python hands over argv bytes that are not UTF-8 (b"hi\xff there")
SEED_65_BITS = str(2**64)


def _wav(path: Path, seconds: float, sr: int = 24000, kind: str = "voice", subtype: str = "PCM_16") -> Path:
    n = max(1, int(seconds * sr))
    t = np.arange(n) / sr
    if kind == "silent":
        x = np.zeros(n)
    else:  # a buzzy vowel with syllable-rate pauses
        x = 0.3 * np.sign(np.sin(2 * np.pi * 140 * t)) * (np.sin(2 * np.pi * 3 * t) > -0.3)
    sf.write(path, x.astype(np.float32), sr, subtype=subtype)
    return path


def sparse_wav(path: Path, data_bytes: int = 4_000_000_000, sr: int = 48000) -> Path:
    """A WAV whose header announces ``data_bytes`` of 16-bit mono audio (11.6 h at 48 kHz); the file is
    sparse, so it costs no disk."""
    header = (b"RIFF" + (36 + data_bytes).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
              + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + sr.to_bytes(4, "little")
              + (sr * 2).to_bytes(4, "little") + (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
              + b"data" + data_bytes.to_bytes(4, "little"))
    with open(path, "wb") as f:
        f.write(header)
        f.truncate(len(header) + data_bytes)
    return path


def hours_mp4(path: Path, frames: int = 80) -> Path:
    """An MP4 whose sample table spaces ``frames`` frames one hour apart (it claims ~80 h)."""
    from fractions import Fraction

    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=1)
        s.width = s.height = 64
        s.pix_fmt = "yuv420p"
        s.time_base = s.codec_context.time_base = Fraction(1, 1000)
        for k in range(frames):
            f = av.VideoFrame.from_ndarray(np.full((64, 64, 3), k * 3, np.uint8), format="rgb24")
            f.pts, f.time_base = k * 3_600_000, Fraction(1, 1000)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def _ckpt(root: Path, name: str, mutate) -> Path:
    """A copy of the bundled TTS checkpoint with a damaged config.json (weights linked, not copied)."""
    src = bundled_dir("tts")
    d = root / f"ck_{name}"
    d.mkdir()
    for f in src.iterdir():
        if f.name != "config.json":
            (d / f.name).symlink_to(f)
    doc = json.loads((src / "config.json").read_text())
    out = mutate(doc)
    (d / "config.json").write_text(out if isinstance(out, str) else json.dumps(out))
    return d


def _set(**kw):
    def f(doc):
        doc["config"].update(kw)
        return doc
    return f


def _nan_ckpt(root: Path) -> Path:
    from safetensors.torch import load_file, save_file

    src = bundled_dir("tts")
    d = root / "ck_nan"
    shutil.copytree(src, d)
    state = load_file(str(d / "model.safetensors"))
    k = next(k for k, v in state.items() if v.is_floating_point())
    state[k] = torch.full_like(state[k], float("nan"))
    save_file(state, str(d / "model.safetensors"))
    return d


@pytest.fixture(scope="module")
def assets(tmp_path_factory) -> Path:
    a = tmp_path_factory.mktemp("hostile")
    tm.moving_square_video(a / "clip.mp4", duration=1.0, fps=10)
    _wav(a / "ref.wav", 2.0)
    _wav(a / "short.wav", 0.1)
    _wav(a / "silent.wav", 2.0, kind="silent")
    _wav(a / "hz1.wav", 10.0, sr=1, subtype="FLOAT")
    sparse_wav(a / "sparse.wav")
    hours_mp4(a / "hours.mp4")
    tm.garbage_file(a / "garbage.mp4")
    tm.garbage_file(a / "garbage.wav")
    (a / "empty.wav").write_bytes(b"")
    (a / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    (a / "zh.srt").write_text("1\n00:00:00,100 --> 00:00:00,900\n你好世界\n\n", encoding="utf-8")
    (a / "binary.srt").write_bytes(bytes(range(256)) * 4)
    shutil.copy(bundled_dir("tts") / "vocab.txt", a / "vocab.txt")
    (a / "garbage.pt").write_bytes(b"\x80\x02not a pickle at all" * 10)
    (a / "garbage.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}" * 3)
    (a / "manifest.csv").write_bytes(b"\xff\xfe garbage,,,\n\x00\x01")
    (a / "batch").mkdir()
    (a / "batch" / "list.csv").write_text("video,duration\n../clip.mp4,abc\n")
    (a / "emptydir").mkdir()
    pickled = a / "reasoner"
    pickled.mkdir()
    (pickled / "config.json").write_text('{"model_type": "gpt2"}')
    torch.save({"w": torch.zeros(2)}, pickled / "pytorch_model.bin")
    _ckpt(a, "list", lambda d: [1, 2])
    _ckpt(a, "null", lambda d: None)
    _ckpt(a, "noconfig", lambda d: {k: v for k, v in d.items() if k != "config"})
    _ckpt(a, "strdim", _set(dim="big"))
    _ckpt(a, "negdim", _set(dim=-5))
    _ckpt(a, "giant", _set(dim=32768, depth=64))
    _ckpt(a, "version", lambda d: {**d, "format_version": -7})
    _ckpt(a, "notjson", lambda d: "{ not json")
    _nan_ckpt(a)
    return a


TTS = ["tts", "--text", "hello there", "--ref-audio", "{A}/ref.wav", "--ref-text", "hi", "-o", "{O}/o.wav",
       "--nfe", "2"]
V2A = ["v2a", "{A}/clip.mp4", "-o", "{O}/o.wav", "--steps", "2"]
DUB = ["dub", "--video", "{A}/clip.mp4", "--text", "hello", "--ref-audio", "{A}/ref.wav", "--ref-text", "hi",
       "-o", "{O}/o.wav", "--nfe", "2", "--steps", "2", "--timing", "lips"]
RUN = ["run", "--video", "{A}/clip.mp4", "--instruction", "add sound", "--task", "v2a", "-o", "{O}/o.wav",
       "--steps", "2"]
THINK = ["think", "{A}/clip.mp4", "--audio", "{A}/ref.wav", "-o", "{O}/o.wav"]
EVAL = ["eval", "--task", "tts", "--gen", "{A}/emptydir", "-o", "{O}/eval"]
TRAIN = ["train", "tts", "--data", "{A}/manifest.csv", "--out", "{O}/run", "--steps", "2", "--device", "cpu"]


def _with(base: list[str], **changes) -> list[str]:
    """``base`` with options replaced (``nfe="0"``) or added; ``_ref_audio`` style keys use underscores."""
    argv = list(base)
    for key, value in changes.items():
        flag = "-o" if key == "o" else "--" + key.replace("_", "-")
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    return argv


CASES: list[tuple[str, list[str], str]] = [
    # tts: numbers
    ("tts-nfe-0", _with(TTS, nfe="0"), "--nfe"),
    ("tts-nfe-negative", _with(TTS, nfe="-3"), "--nfe"),
    ("tts-nfe-not-int", _with(TTS, nfe="abc"), "--nfe"),
    ("tts-speed-nan", _with(TTS, speed="nan"), "--speed"),
    ("tts-speed-inf", _with(TTS, speed="inf"), "--speed"),
    ("tts-timbre-above-1", _with(TTS, timbre="2"), "--timbre"),
    ("tts-timbre-nan", _with(TTS, timbre="nan"), "--timbre"),
    ("tts-adapt-negative", _with(TTS, adapt="-5"), "--adapt"),
    ("tts-adapt-huge", _with(TTS, adapt="100000"), "--adapt"),
    ("tts-speed-zero", _with(TTS, speed="0"), "--speed"),
    ("tts-duration-nan", _with(TTS, duration="nan"), "--duration"),
    ("tts-duration-huge", _with(TTS, duration="1e12"), "--duration"),
    ("tts-seed-65-bits", _with(TTS, seed=SEED_65_BITS), "--seed"),
    ("tts-seed-negative", _with(TTS, seed="-1"), "--seed"),
    ("tts-sway-nan", _with(TTS, sway="nan"), "--sway"),
    ("tts-cfg-nan", _with(TTS, cfg="nan"), "--cfg"),
    ("tts-bad-device", _with(TTS, device="bogus:7"), "device"),
    # tts: text
    ("tts-text-not-utf8", _with(TTS, text=BAD_UTF8), "UTF-8"),
    ("tts-ref-text-not-utf8", _with(TTS, ref_text=BAD_UTF8), "UTF-8"),
    ("tts-text-chinese", _with(TTS, text="你好世界"), "nothing this model can speak"),
    ("tts-text-emoji", _with(TTS, text="😀😀😀"), "nothing this model can speak"),
    ("tts-text-arabic", _with(TTS, text="مرحبا بالعالم"), "nothing this model can speak"),
    ("tts-text-hebrew", _with(TTS, text="שלום עולם"), "nothing this model can speak"),
    ("tts-text-punctuation", _with(TTS, text="...!?"), "nothing this model can speak"),
    ("tts-ref-text-chinese", _with(TTS, ref_text="你好世界"), "reference text"),
    ("tts-text-too-long", _with(TTS, text="a" * 20001), "characters"),
    ("tts-text-file-latin1", [a for a in TTS if a not in ("--text", "hello there")] + ["--text-file", "{A}/latin1.txt"],
     "UTF-8"),
    # tts: reference and output
    ("tts-ref-0.1s", _with(TTS, ref_audio="{A}/short.wav"), "shorter than 1 s"),
    ("tts-ref-silent", _with(TTS, ref_audio="{A}/silent.wav"), "silent"),
    ("tts-ref-1hz", _with(TTS, ref_audio="{A}/hz1.wav"), "1 Hz"),
    ("tts-ref-sparse-hours", _with(TTS, ref_audio="{A}/sparse.wav"), "sparse.wav"),
    ("tts-ref-missing", _with(TTS, ref_audio="{A}/nope.wav"), "not found"),
    ("tts-ref-garbage", _with(TTS, ref_audio="{A}/garbage.wav"), "garbage.wav"),
    ("tts-ref-empty", _with(TTS, ref_audio="{A}/empty.wav"), "empty"),
    ("tts-output-txt", _with(TTS, o="{O}/o.txt"), "unknown audio format"),
    ("tts-output-is-input", _with(TTS, o="{A}/ref.wav"), "same as an input"),
    # tts: checkpoints
    ("ckpt-config-list", _with(TTS, ckpt="{A}/ck_list"), "holds a list"),
    ("ckpt-config-null", _with(TTS, ckpt="{A}/ck_null"), "holds null"),
    ("ckpt-no-config", _with(TTS, ckpt="{A}/ck_noconfig"), "'config'"),
    ("ckpt-string-dim", _with(TTS, ckpt="{A}/ck_strdim"), "dim"),
    ("ckpt-negative-dim", _with(TTS, ckpt="{A}/ck_negdim"), "no valid model"),
    ("ckpt-giant-dims", _with(TTS, ckpt="{A}/ck_giant"), "parameters"),
    ("ckpt-format-version", _with(TTS, ckpt="{A}/ck_version"), "format_version"),
    ("ckpt-not-json", _with(TTS, ckpt="{A}/ck_notjson"), "not valid JSON"),
    ("ckpt-nan-weights", _with(TTS, ckpt="{A}/ck_nan"), "NaN"),
    ("ckpt-missing", _with(TTS, ckpt="{A}/nothing"), "not found"),
    # v2a
    ("v2a-steps-0", _with(V2A, steps="0"), "--steps"),
    ("v2a-steps-negative", _with(V2A, steps="-5"), "--steps"),
    ("v2a-cfg-nan", _with(V2A, cfg="nan"), "--cfg"),
    ("v2a-duration-nan", _with(V2A, duration="nan"), "--duration"),
    ("v2a-duration-huge", _with(V2A, duration="1e9"), "--duration"),
    ("v2a-overlap-negative", _with(V2A, overlap="-1"), "--overlap"),
    ("v2a-seed-65-bits", _with(V2A, seed=SEED_65_BITS), "--seed"),
    ("v2a-prompt-not-utf8", _with(V2A, prompt=BAD_UTF8), "UTF-8"),
    ("v2a-output-txt", _with(V2A, o="{O}/o.txt"), "unknown audio format"),
    ("v2a-video-missing", ["v2a", "{A}/nope.mp4", "-o", "{O}/o.wav"], "nope.mp4"),
    ("v2a-video-garbage", ["v2a", "{A}/garbage.mp4", "-o", "{O}/o.wav"], "garbage.mp4"),
    ("v2a-no-output", ["v2a", "{A}/clip.mp4"], "no output"),
    ("v2a-80-hours", ["v2a", "{A}/hours.mp4", "-o", "{O}/o.wav"], "--max-duration"),
    ("v2a-csv-bad-duration", ["v2a", "{A}/batch/list.csv", "-o", "{O}/batch"], "duration='abc'"),
    ("v2a-max-duration-nan", _with(V2A, max_duration="nan"), "--max-duration"),
    # dub
    ("dub-srt-chinese", [a for a in DUB if a not in ("--text", "hello")] + ["--srt", "{A}/zh.srt"], "subtitle 1"),
    ("dub-srt-binary", [a for a in DUB if a not in ("--text", "hello")] + ["--srt", "{A}/binary.srt"], "binary.srt"),
    ("dub-ref-short", _with(DUB, ref_audio="{A}/short.wav"), "shorter than 1 s"),
    ("dub-ref-missing", _with(DUB, ref_audio="{A}/nope.wav"), "not found"),
    ("dub-nfe-0", _with(DUB, nfe="0"), "--nfe"),
    ("dub-duck-nan", _with(DUB, duck_db="nan"), "--duck-db"),
    ("dub-text-not-utf8", _with(DUB, text=BAD_UTF8), "UTF-8"),
    ("dub-text-chinese", _with(DUB, text="你好世界"), "nothing this model can speak"),
    ("dub-output-txt", _with(DUB, o="{O}/o.txt"), "unknown audio format"),
    ("dub-video-missing", _with(DUB, video="{A}/nope.mp4"), "not found"),
    # run
    ("run-instruction-not-utf8", _with(RUN, instruction=BAD_UTF8), "UTF-8"),
    ("run-video-missing", _with(RUN, video="{A}/nope.mp4"), "not found"),
    ("run-seed-65-bits", _with(RUN, seed=SEED_65_BITS), "--seed"),
    ("run-output-is-input", _with(RUN, o="{A}/clip.mp4"), "same as an input"),
    ("run-steps-0", _with(RUN, steps="0"), "--steps"),
    # think
    ("think-max-rounds-0", _with(THINK, max_rounds="0"), "--max-rounds"),
    ("think-audio-missing", _with(THINK, audio="{A}/nope.wav"), "not found"),
    ("think-audio-sparse-hours", _with(THINK, audio="{A}/sparse.wav"), "--max-duration"),
    ("think-cfg-inf", _with(THINK, cfg="inf"), "--cfg"),
    ("think-output-txt", _with(THINK, o="{O}/o.txt"), "unknown audio format"),
    ("think-pickled-reasoner", _with(THINK, reasoner="local:{A}/reasoner"), "pickled"),
    # eval
    ("eval-gen-missing", _with(EVAL, gen="{A}/nope"), "nope"),
    ("eval-bad-metric", _with(EVAL, metrics="bogus"), "bogus"),
    ("eval-beam-0", _with(EVAL, beam_size="0"), "--beam-size"),
    ("eval-task-bogus", _with(EVAL, task="bogus"), "--task"),
    # convert
    ("convert-unknown", ["convert", "bogus", "{A}/garbage.pt", "-o", "{O}/ck"], "bogus"),
    ("convert-garbage-pt", ["convert", "f5tts", "{A}/garbage.pt", "{A}/vocab.txt", "-o", "{O}/ck"], "garbage.pt"),
    ("convert-bad-set", ["convert", "f5tts", "{A}/garbage.pt", "-o", "{O}/ck", "--set", "nonsense"], "--set"),
    ("convert-no-output", ["convert", "f5tts", "{A}/garbage.pt"], "output"),
    # train
    ("train-garbage-manifest", TRAIN, "manifest.csv"),
    ("train-steps-0", _with(TRAIN, steps="0"), "--steps"),
    ("train-lr-nan", _with(TRAIN, lr="nan"), "--lr"),
    ("train-manifest-missing", _with(TRAIN, data="{A}/nope.csv"), "nope.csv"),
    ("train-no-stage", ["train"], "stage"),
    # verify-parity
    ("parity-garbage", ["verify-parity", "{A}/garbage.safetensors"], "garbage"),
    ("parity-missing", ["verify-parity", "{A}/nope.safetensors"], "nope"),
    ("parity-tolerance-negative", ["verify-parity", "{A}/garbage.safetensors", "--tolerance", "-1"], "--tolerance"),
    ("parity-tolerance-nan", ["verify-parity", "{A}/garbage.safetensors", "--tolerance", "nan"], "--tolerance"),
    ("parity-bad-device", ["verify-parity", "{A}/garbage.safetensors", "--device", "gpu"], "--device"),
]


def _fingerprint(folder: Path) -> dict[str, tuple]:
    """Size, mtime and a hash of the first MiB of every file (the sparse 4 GB file included, cheaply)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.is_symlink():
            st = p.stat()
            with open(p, "rb") as f:
                out[str(p)] = (st.st_size, st.st_mtime_ns, hashlib.sha256(f.read(1 << 20)).hexdigest())
    return out


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A working folder and a private temp folder per case (both must stay empty)."""
    cwd, tmp = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    tmp.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return tmp_path


def check_one_line_failure(code: int, err: str, expect: str, out_dir: Path, sandbox: Path, batch: bool = False) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, f"exit {code}: {err}"
    assert len(lines) == 1, err
    assert lines[0].startswith("deepaudio: error: ") and "Traceback" not in err, err
    assert expect.lower() in lines[0].lower(), lines[0]
    if batch:  # a batch records why its items failed (the summary rank 0 writes, each rank's journal); no output
        made = [p for p in out_dir.rglob("*") if p.is_file() and p.name != "batch_summary.json"
                and not (p.name.startswith(".") and p.suffix == ".jsonl")]
        assert not made, f"left {made}"
    else:
        assert not out_dir.exists(), f"left {sorted(out_dir.rglob('*'))}"
    for folder in (sandbox / "cwd", sandbox / "tmp"):
        assert not any(folder.iterdir()), f"left {sorted(folder.iterdir())}"


@pytest.mark.parametrize("name,argv,expect", CASES, ids=[c[0] for c in CASES])
def test_bad_input(name, argv, expect, assets, sandbox, capsys):
    out_dir = sandbox / "out" / "sub"
    before = _fingerprint(assets)
    code = main([a.replace("{A}", str(assets)).replace("{O}", str(out_dir)) for a in argv])
    err = capsys.readouterr().err
    check_one_line_failure(code, err, expect, sandbox / "out", sandbox, batch="-csv-" in name)
    assert _fingerprint(assets) == before
    assert not [p for p in assets.rglob("*") if ".deepaudio-tmp-" in p.name]


def test_corpus_size():
    assert len(CASES) >= 60
    commands = {argv[0] for _, argv, _ in CASES}
    assert commands >= {"tts", "v2a", "dub", "run", "think", "eval", "convert", "train", "verify-parity"}


@pytest.mark.parametrize("argv,expect", [
    (["tts", "--text", b"caf\xe9", "--ref-audio", "{A}/ref.wav", "--ref-text", "hi", "-o", "{O}/o.wav"], "UTF-8"),
    (["tts", "--text", "hi", "--ref-audio", "{A}/sparse.wav", "--ref-text", "hi", "-o", "{O}/o.wav"], "sparse.wav"),
], ids=["tts-raw-latin1-bytes", "tts-sparse-reference"])
def test_bad_input_as_a_process(argv, expect, assets, sandbox):
    """As a real process: raw non-UTF-8 argv bytes, and the peak memory of a sparse 11.6 h reference."""
    out_dir = sandbox / "out" / "sub"
    args = [a.replace(b"{A}", str(assets).encode()) if isinstance(a, bytes) else
            a.replace("{A}", str(assets)).replace("{O}", str(out_dir)) for a in argv]
    probe = ("import resource, runpy, sys; sys.argv = ['deepaudio'] + sys.argv[1:]\n"
             "try:\n    runpy.run_module('deepaudio.cli.main', run_name='__main__')\n"
             "finally:\n    print('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(sandbox / "tmp"),
           "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, env=env, cwd=sandbox / "cwd",
                          timeout=300)
    err = proc.stderr.decode("utf-8", "replace")
    check_one_line_failure(proc.returncode, err, expect, sandbox / "out", sandbox)
    peak_mb = int(proc.stdout.decode().split("PEAK_KB")[-1]) / 1024
    print(f"peak memory {peak_mb:.0f} MB")
    assert peak_mb < 1500  # the 4 GB sparse file is never decoded whole
