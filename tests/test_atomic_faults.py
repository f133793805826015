"""Atomic writes under faults: full disk, Ctrl-C and kill -9 mid-write, two writers, links, modes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from deepaudio.cli.common import write_sidecar
from deepaudio.errors import DeepAudioError, InputError, OutputPathError
from deepaudio.io.atomic import HOST, TAG, atomic_path, check_output_path
from deepaudio.io.audio import save_audio


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if TAG in p.name]


def _tone(seconds: float, sr: int = 24000, value: float = 0.25) -> torch.Tensor:
    return torch.full((1, int(seconds * sr)), value)


def test_output_mode_follows_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        out = save_audio(tmp_path / "a.wav", _tone(0.1), 24000)
        os.umask(0o027)
        out2 = save_audio(tmp_path / "b.wav", _tone(0.1), 24000)
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644
    assert out2.stat().st_mode & 0o777 == 0o640


def test_symlink_to_another_filesystem_is_written_through(tmp_path):
    other = Path("/dev/shm")
    if not other.is_dir() or other.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second filesystem (/dev/shm) to link to")
    target_dir = Path(os.path.realpath(other)) / f"deepaudio-test-{os.getpid()}"
    target_dir.mkdir()
    try:
        (tmp_path / "link.wav").symlink_to(target_dir / "real.wav")
        save_audio(tmp_path / "link.wav", _tone(0.2), 24000)
        assert (tmp_path / "link.wav").is_symlink()
        data, sr = sf.read(target_dir / "real.wav")
        assert sr == 24000 and len(data) == 4800
        assert not _leftovers(tmp_path) and not _leftovers(target_dir)
    finally:
        import shutil

        shutil.rmtree(target_dir, ignore_errors=True)


def test_dangling_symlink_into_a_missing_folder_is_refused(tmp_path):
    (tmp_path / "out.wav").symlink_to(tmp_path / "nowhere" / "deeper" / "x.wav")
    with pytest.raises(OutputPathError, match="symlink"):
        save_audio(tmp_path / "out.wav", _tone(0.1), 24000)
    assert not (tmp_path / "nowhere").exists()


def test_failed_write_removes_the_folders_it_created(tmp_path):
    with pytest.raises(InputError):
        save_audio(tmp_path / "a" / "b" / "x.wav", torch.full((1, 100), float("nan")), 24000)
    assert not (tmp_path / "a").exists()
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "c" / "y.bin") as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("writer failed")
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_audio_is_never_written(tmp_path, value):
    wav = _tone(0.1)
    wav[0, 7] = value
    with pytest.raises(InputError, match="NaN or infinite"):
        save_audio(tmp_path / "x.wav", wav, 24000)
    assert not any(tmp_path.iterdir())


def test_stale_temporary_files_of_dead_writers_are_cleaned(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".x.wav{TAG}{HOST}-{dead.pid}-deadbeef.wav"
    stale.write_bytes(b"half a file")
    live = tmp_path / f".y.wav{TAG}{HOST}-{os.getppid()}-cafebabe.wav"  # a running process: not ours to delete
    live.write_bytes(b"in progress")
    remote = tmp_path / f".z.wav{TAG}000000-{dead.pid}-cafebabe.wav"  # another machine's write on a shared disk
    remote.write_bytes(b"in progress elsewhere")
    save_audio(tmp_path / "other.wav", _tone(0.1), 24000)
    assert not stale.exists() and live.exists() and remote.exists()


def test_second_of_two_writers_to_a_new_file_says_so(tmp_path):
    out = tmp_path / "same.bin"
    with pytest.raises(OutputPathError, match="another process"):
        with atomic_path(out) as a, atomic_path(out) as b:
            a.write_bytes(b"A" * 1000)
            b.write_bytes(b"B" * 10)
    assert out.read_bytes() == b"B" * 10  # the first to finish (the inner one) wins whole
    assert not _leftovers(tmp_path)


_WRITER = textwrap.dedent("""
    import sys, time, torch
    from pathlib import Path
    from deepaudio.errors import DeepAudioError
    from deepaudio.io.audio import save_audio
    go = Path(sys.argv[2])
    while not go.exists():
        time.sleep(0.005)
    try:
        save_audio(sys.argv[1], torch.full((1, 24000 * 20), float(sys.argv[3])), 24000)
        print("wrote")
    except DeepAudioError as exc:
        print("refused", exc)
""")


def test_two_processes_writing_the_same_output(tmp_path):
    out, go = tmp_path / "race.wav", tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(out), str(go), v], stdout=subprocess.PIPE,
                              text=True, env=env) for v in ("0.25", "0.5")]
    time.sleep(2.0)  # both imported and waiting
    go.touch()
    results = [p.communicate(timeout=120)[0] for p in procs]
    assert any(r.startswith("wrote") for r in results), results
    assert all(r.startswith("wrote") or "another process" in r for r in results), results
    data, _ = sf.read(out)
    assert len(data) == 24000 * 20 and np.unique(np.round(data, 3)).size == 1  # one writer's file, whole
    assert not _leftovers(tmp_path)


_SLOW = textwrap.dedent("""
    import sys, time
    from deepaudio.io.atomic import atomic_path
    with atomic_path(sys.argv[1]) as tmp:
        with open(tmp, "wb") as f:
            for _ in range(600):
                f.write(b"x" * 4096); f.flush(); time.sleep(0.01)
""")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_interrupted_write_leaves_no_output(tmp_path, sig):
    out = tmp_path / "slow.bin"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", _SLOW, str(out)], env=env, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not _leftovers(tmp_path) and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)
    proc.send_signal(sig)
    proc.wait(timeout=30)
    assert not out.exists()
    if sig == signal.SIGINT:
        assert not _leftovers(tmp_path)
    else:  # kill -9 cannot clean up; the next write to the folder does
        assert _leftovers(tmp_path)
        save_audio(tmp_path / "next.wav", _tone(0.1), 24000)
        assert not _leftovers(tmp_path)


def test_sidecar_never_replaces_a_file_the_run_did_not_create(tmp_path, capsys):
    truth = tmp_path / "clip.json"
    truth.write_text('{"truth": 1}')
    side = write_sidecar(tmp_path / "clip.wav", {"task": "v2a"}, [])
    assert truth.read_text() == '{"truth": 1}' and side.name == "clip.deepaudio.json"
    assert "clip.deepaudio.json" in capsys.readouterr().err
    again = write_sidecar(tmp_path / "clip.wav", {"task": "dub"}, [])
    assert again == side  # our own sidecar is updated in place


@pytest.fixture
def full_disk(tmp_path):
    """A 256 KiB tmpfs (needs permission to mount; skipped where that is not allowed)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.decode().strip()[:80]})")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".mp3"])
def test_full_disk_is_one_line_and_leaves_nothing(full_disk, suffix):
    with pytest.raises(OutputPathError, match="disk is full|cannot write"):
        save_audio(full_disk / f"big{suffix}", torch.rand(1, 24000 * 60) - 0.5, 24000)
    assert list(full_disk.iterdir()) == []


def test_full_disk_through_the_cli(full_disk, tmp_path, capsys):
    from deepaudio.cli.main import main

    clip = tmp_path / "ref.wav"
    sf.write(clip, (0.3 * np.sign(np.sin(np.arange(48000) / 24000 * 2 * np.pi * 140))).astype(np.float32), 24000)
    (full_disk / "filler").write_bytes(b"\0" * (250 * 1024))
    code = main(["tts", "--text", "hello there", "--ref-audio", str(clip), "--ref-text", "hi", "--nfe", "1",
                 "-o", str(full_disk / "out.wav")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("deepaudio: error:") and "disk is full" in err[-1], err
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler"]


def test_check_output_path_creates_nothing(tmp_path):
    check_output_path(tmp_path / "a" / "b" / "c.wav")
    assert not (tmp_path / "a").exists()


def test_deepaudio_error_is_the_api_error_type():
    assert issubclass(OutputPathError, DeepAudioError)
