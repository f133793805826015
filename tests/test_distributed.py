"""Sharded batch commands under torchrun (gloo on CPU, loopback): owners, streamed inputs, summaries, kills."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from deepaudio.cli.main import main as cli
from deepaudio.distributed import SUMMARY_NAME, BatchRun, item_seed, owner, stable_hash
from deepaudio.errors import InputError
from deepaudio.io.batch_inputs import BatchItem, iter_items

N_CLIPS = 12
V2A_ARGS = ["--steps", "2", "--device", "cpu", "--seed", "7"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(args: list[str], nproc: int = 2) -> list[str]:
    torchrun = Path(sys.executable).with_name("torchrun")
    return [str(torchrun), "--nproc_per_node", str(nproc), "--master_addr", "127.0.0.1", "--master_port",
            str(_free_port()), "-m", "deepaudio.cli.main", *args]


ENV = dict(os.environ, OMP_NUM_THREADS="1")


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """12 toy clips and the outputs of a one-process run over them (the reference)."""
    from deepaudio.io.testmedia import moving_square_video

    root = tmp_path_factory.mktemp("clips")
    for i in range(N_CLIPS):
        moving_square_video(root / "in" / f"clip{i:02d}.mp4", duration=1.0, width=64, height=64,
                            beep_frames=(i % 20, 20))
    assert _one_thread(cli, ["v2a", str(root / "in"), "-o", str(root / "ref"), *V2A_ARGS]) == 0
    return {"in": root / "in", "ref": root / "ref"}


def _one_thread(fn, *args):
    """``fn(*args)`` on one thread, as each torchrun rank runs (OMP_NUM_THREADS=1): CPU sums depend on the split."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fn(*args)
    finally:
        torch.set_num_threads(threads)


def _wavs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.wav"))}


# ----------------------------------------------------------------------------------------- units
def test_owner_and_seed_are_stable_and_balanced():
    # Fixed values: the scheme must not change between versions, or re-runs would redo finished items.
    assert stable_hash("a") == 0x40F89E395B66422F  # blake2b-64, not Python's salted hash()
    assert item_seed(42, "clip00") == 2024210699 != item_seed(43, "clip00")
    assert [owner(f"clip{i:02d}", 2) for i in range(6)] == [1, 1, 0, 1, 0, 0] and owner("clip00", 1) == 0
    counts = [0, 0, 0]
    for i in range(3000):
        counts[owner(f"item{i}", 3)] += 1
    assert min(counts) > 900  # roughly even shares


def test_cuda_means_the_ranks_local_gpu(monkeypatch):
    import torch

    from deepaudio.distributed import cuda_device_for_rank

    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert cuda_device_for_rank("cuda") == torch.device("cuda")
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert cuda_device_for_rank("cuda") == torch.device("cuda", 3)
    assert cuda_device_for_rank("cuda:1") == torch.device("cuda", 1)  # an explicit index is kept
    assert cuda_device_for_rank("cpu") == torch.device("cpu")


def test_inputs_stream_from_every_source(tmp_path):
    (tmp_path / "f").mkdir()
    for n in ("b.mp4", "a.MOV", "notes.txt", ".hidden.mp4"):
        (tmp_path / "f" / n).write_text("x")
    assert sorted(i.name for i in iter_items(tmp_path / "f", "video", {".mp4", ".mov"})) == ["a", "b"]
    (tmp_path / "m.csv").write_text("video,prompt,name\nv/x.mp4,rain,\n/abs/y.mp4,,why\n,,\n")
    rows = list(iter_items(tmp_path / "m.csv", "video", ()))
    assert (rows[0].name, rows[0].path, rows[0].options) == ("x", tmp_path / "v" / "x.mp4", {"prompt": "rain"})
    assert rows[1].name == "why" and rows[1].path == Path("/abs/y.mp4")
    assert rows[2].error and "line 4" in rows[2].error  # reported as a failed item, the batch goes on
    (tmp_path / "m.jsonl").write_text('{"video": "c.mp4", "seed": 3}\n\nnot json\n[1]\n')
    rows = list(iter_items(tmp_path / "m.jsonl", "video", ()))
    assert rows[0].name == "c" and rows[0].options == {"seed": "3"}
    assert "not valid JSON" in rows[1].error and "JSON object" in rows[2].error
    (tmp_path / "l.txt").write_text("# clips\nd.mp4\n\n/x/e.mp4  # note\n")
    assert [(i.name, i.path) for i in iter_items(tmp_path / "l.txt", "video", ())] == [
        ("d", tmp_path / "d.mp4"), ("e", Path("/x/e.mp4"))]
    with pytest.raises(InputError, match="not found"):
        iter_items(tmp_path / "missing.csv", "video", ())


def test_a_long_manifest_streams_in_constant_memory(tmp_path):
    """Sharding 20 000 rows keeps no list of them: the peak of Python allocations stays far below the file."""
    path = tmp_path / "big.csv"
    with path.open("w") as f:
        f.write("video,prompt\n")
        for i in range(20000):
            f.write(f"clips/clip_{i:07d}.mp4,a dog barks in the distance number {i}\n")
    run = BatchRun("v2a", tmp_path, "cpu")
    tracemalloc.start()
    mine = sum(1 for _ in run.mine(iter_items(path, "video", ())))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert mine == 20000 and peak < 200_000 < path.stat().st_size


def test_batch_run_skips_finished_and_reports_failures(tmp_path):
    items = [BatchItem("a"), BatchItem("b"), BatchItem("c"), BatchItem("line 9", error="line 9: no video")]
    (tmp_path / "a.out").write_text("done before")

    def work(item, outs):
        if item.name == "c":
            raise InputError("cannot decode", "c.mp4")
        outs[0].write_text("new")

    code = BatchRun("x", tmp_path, "cpu").run(items, lambda it: [tmp_path / f"{it.name}.out"], work)
    summary = json.loads((tmp_path / SUMMARY_NAME).read_text())
    assert code == 2 and (tmp_path / "a.out").read_text() == "done before"
    assert (summary["items"], summary["done"], summary["skipped"], summary["failed"]) == (4, 1, 1, 2)
    assert {f["name"]: f["reason"] for f in summary["failures"]} == {"c": "c.mp4: cannot decode",
                                                                     "line 9": "line 9: no video"}
    assert summary["complete"]


def test_a_manifest_that_breaks_off_still_leaves_a_summary(clips, tmp_path, capsys):
    """Bytes that are not UTF-8 after good rows: the rows read before are made, then one error line, exit 2,
    and the summary says the run is incomplete and why."""
    manifest = tmp_path / "m.csv"
    pad = "," + "x" * 20000  # the rows fill more than the reader's first block: the bad bytes come later
    manifest.write_bytes(f"video,note\n{clips['in']}/clip00.mp4{pad}\n{clips['in']}/clip01.mp4{pad}\n".encode()
                         + b"caf\xe9.mp4,\n" * 10)
    capsys.readouterr()
    assert _one_thread(cli, ["v2a", str(manifest), "-o", str(tmp_path / "out"), *V2A_ARGS]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("deepaudio: error:")]
    assert len(err) == 2 and "not UTF-8" in err[-1] and "m.csv" in err[-1]
    made, ref = _wavs(tmp_path / "out"), _wavs(clips["ref"])
    assert made and all(made[k] == ref[k] for k in made)  # the rows decoded before the bad block were made
    summary = json.loads((tmp_path / "out" / SUMMARY_NAME).read_text())
    assert not summary["complete"] and summary["done"] == len(made) and "not UTF-8" in summary["rank_errors"]["0"]


# ---------------------------------------------------------------------------------- two processes
def test_two_processes_equal_one_process(clips, tmp_path):
    """torchrun, 2 gloo ranks over 12 clips: each output once, byte-identical to the 1-process run."""
    out = tmp_path / "out"
    proc = subprocess.run(_torchrun(["v2a", str(clips["in"]), "-o", str(out), *V2A_ARGS]), env=ENV,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _wavs(out) == _wavs(clips["ref"]) and len(_wavs(out)) == N_CLIPS
    summary = json.loads((out / SUMMARY_NAME).read_text())
    assert (summary["world_size"], summary["items"], summary["done"], summary["failed"]) == (2, N_CLIPS, N_CLIPS, 0)
    assert [r["done"] for r in summary["ranks"]] == [sum(owner(f"clip{i:02d}", 2) == r for i in range(N_CLIPS))
                                                    for r in (0, 1)]
    assert "[rank 1/2]" in proc.stderr and "[rank 0/2]" in proc.stderr
    lines = [json.loads(ln) for r in (0, 1) for ln in (out / f".v2a_rank{r:05d}.jsonl").read_text().splitlines()]
    done = sorted(d["name"] for d in lines if d.get("status") == "done")
    assert done == [f"clip{i:02d}" for i in range(N_CLIPS)]  # each item made by exactly one rank


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        kids += [int(k) for k in text]
    return kids


def _rank_of(pid: int) -> int | None:
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    for kv in env:
        if kv.startswith(b"RANK="):
            return int(kv[5:])
    return None


@pytest.mark.slow  # two torchrun runs, ~30 s on two shared cores
def test_a_killed_rank_loses_only_its_item_in_flight(clips, tmp_path):
    """SIGKILL rank 1 after its first output; torchrun stops the job. The same command then finishes the rest
    (on another world size too), regenerates nothing and the outputs equal the reference."""
    out = tmp_path / "out"
    args = ["v2a", str(clips["in"]), "-o", str(out), *V2A_ARGS]
    proc = subprocess.Popen(_torchrun(args), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    mine1 = {f"clip{i:02d}.wav" for i in range(N_CLIPS) if owner(f"clip{i:02d}", 2) == 1}
    deadline, victim = time.time() + 240, None
    while time.time() < deadline and proc.poll() is None:
        if {p.name for p in out.glob("*.wav")} & mine1:
            victim = next((k for k in _children(proc.pid) if _rank_of(k) == 1), None)
            if victim is not None:
                os.kill(victim, signal.SIGKILL)
                break
        time.sleep(0.02)
    assert victim is not None, "rank 1 was not caught mid-run"
    assert proc.wait(timeout=120) != 0
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("*.wav")}
    assert 0 < len(before) < N_CLIPS
    journal = [json.loads(ln) for ln in (out / ".v2a_rank00001.jsonl").read_text().splitlines()]
    assert not any(d.get("end") for d in journal)  # the killed rank never finished its record ...
    assert {f"{d['name']}.wav" for d in journal} <= set(before)  # ... and what it noted as done is on disk
    rerun = subprocess.run(_torchrun(args, nproc=3), env=ENV, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("*.wav")}
    assert all(after[n] == v for n, v in before.items())  # nothing regenerated
    assert _wavs(out) == _wavs(clips["ref"])
    summary = json.loads((out / SUMMARY_NAME).read_text())
    assert (summary["items"], summary["skipped"], summary["done"]) == (N_CLIPS, len(before), N_CLIPS - len(before))


@pytest.fixture(scope="module")
def voice(tmp_path_factory) -> Path:
    from deepaudio.eval.samples import espeak
    from deepaudio.io.audio import save_audio

    path = tmp_path_factory.mktemp("voice") / "ref.wav"
    save_audio(path, *espeak("Hello there, this is my voice.", voice="en-us", speed=170))
    return path


@pytest.mark.slow  # the bundled TTS in one process, then under torchrun
def test_tts_manifest_sharded_equals_one_process(voice, tmp_path):
    lines = [json.dumps({"name": f"s{i}", "text": t, "ref_text": "Hello there, this is my voice."})
             for i, t in enumerate(["Good morning.", "The rain falls.", "Open the door.", "See you soon."])]
    (tmp_path / "m.jsonl").write_text("\n".join(lines + ['{"name": "empty"}']) + "\n")
    args = ["tts", "--manifest", str(tmp_path / "m.jsonl"), "--ref-audio", str(voice), "--nfe", "4",
            "--device", "cpu"]
    assert cli([*args, "-o", str(tmp_path / "one")]) == 2  # the row without text fails, the others are made
    proc = subprocess.run(_torchrun([*args, "-o", str(tmp_path / "two")]), env=ENV, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 1, proc.stderr[-3000:]  # torchrun reports a rank's failure (exit 2) as 1
    assert _wavs(tmp_path / "one") == _wavs(tmp_path / "two") and len(_wavs(tmp_path / "two")) == 4
    summary = json.loads((tmp_path / "two" / SUMMARY_NAME).read_text())
    assert (summary["done"], summary["failed"]) == (4, 1) and "neither 'text'" in summary["failures"][0]["reason"]


@pytest.mark.slow  # the bundled DeepAudio pipeline on two clips
def test_dub_batch_writes_each_clip_once(clips, voice, tmp_path):
    (tmp_path / "d.csv").write_text(f"video,text,ref_audio\n{clips['in']}/clip00.mp4,Hello there.,{voice}\n"
                                    f"{clips['in']}/clip01.mp4,Good day.,{voice}\n")
    args = ["dub", "--video", str(tmp_path / "d.csv"), "-o", str(tmp_path / "out"), "--steps", "2", "--nfe", "4",
            "--device", "cpu", "--ref-text", "Hello there, this is my voice."]
    assert cli(args) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")) == [
        "batch_summary.json", "clip00.json", "clip00.mp4", "clip01.json", "clip01.mp4"]
    stamp = (tmp_path / "out" / "clip00.mp4").stat().st_mtime_ns
    assert cli(args) == 0 and (tmp_path / "out" / "clip00.mp4").stat().st_mtime_ns == stamp
    assert json.loads((tmp_path / "out" / SUMMARY_NAME).read_text())["skipped"] == 2


@pytest.mark.slow  # torchrun
def test_eval_two_processes_equal_one_process(clips, tmp_path):
    args = ["eval", "--task", "v2a", "--gen", str(clips["ref"]), "--video", str(clips["in"]), "--metrics",
            "silence_rate,av_align_ms", "--device", "cpu"]
    assert cli([*args, "-o", str(tmp_path / "one")]) == 0
    proc = subprocess.run(_torchrun([*args, "-o", str(tmp_path / "two")]), env=ENV, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    one, two = (json.loads((tmp_path / d / "summary.json").read_text()) for d in ("one", "two"))
    assert one == two
    assert (tmp_path / "one" / "items.csv").read_text() == (tmp_path / "two" / "items.csv").read_text()
