"""Stage-2 TTS training on real speech (espeak-ng and flite voices), through ``deepaudio train tts``."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from deepaudio.cli.main import main as cli
from deepaudio.data.manifest import ManifestRow, read_manifest, write_manifest
from deepaudio.errors import InputError, MediaError
from deepaudio.io.audio import save_audio
from deepaudio.models.tts.objective import TTSFlowMatching, random_span_mask
from deepaudio.train.report import read_log

SENTENCES = [
    "The cat sat on the warm mat.", "We walked home in the rain.", "Please open the window a little.",
    "A small boat drifted past the pier.", "She bought fresh bread this morning.", "Turn left at the old church.",
    "The children laughed at the clown.", "My brother plays the guitar.", "It was a bright cold day.",
    "Dinner is ready on the table.",
]


def _speak(text: str, k: int):
    from deepaudio.eval.samples import espeak, flite

    if k % 2 == 0:
        return espeak(text, voice="en-us", speed=180)
    return flite(text, voice="slt")


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("speech")
    (root / "clips").mkdir()
    rows = []
    for k, text in enumerate(SENTENCES):
        wav, sr = _speak(text, k)
        path = root / "clips" / f"{k:02d}.wav"
        save_audio(path, wav, sr)
        rows.append(ManifestRow(path, text, "espeak" if k % 2 == 0 else "slt"))
    write_manifest(root / "train.csv", rows[:8])
    write_manifest(root / "val.csv", rows[8:])
    return {"root": root, "train": root / "train.csv", "val": root / "val.csv"}


def _run(args: list[str]) -> int:
    return cli(["train", "tts", *args])


def _common(speech, out: Path, steps: int, **extra) -> list[str]:
    opts = {"--data": speech["train"], "--out": out, "--config": "tiny", "--steps": steps, "--lr": 2e-3,
            "--warmup": 2, "--batch-frames": 600, "--log-every": 1000, "--ema-update-after": 2,
            "--ema-update-every": 1, "--mel-cache": speech["root"] / "mel_cache", **extra}
    return [str(x) for kv in opts.items() for x in kv if x is not None]


def test_loss_falls_on_real_speech(speech, tmp_path):
    out = tmp_path / "run"
    assert _run(_common(speech, out, 40, **{"--val": speech["val"], "--val-every": 20, "--save-every": 40})) == 0
    log = read_log(out / "train_log.jsonl")
    losses = [r["loss"] for r in log if "loss" in r]
    assert len(losses) == 40
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert last < 0.6 * first, (first, last)
    val = [r["val_loss"] for r in log if "val_loss" in r]
    assert len(val) == 2 and val[1] < val[0]
    from deepaudio.models.tts.dit import DiT
    from deepaudio.text import Vocab

    model = DiT.from_pretrained(out / "model")
    vocab = Vocab.load(out / "model" / "vocab.txt")
    assert model.config.text_num_embeds == len(vocab) and model.checkpoint_meta["weights"] == "ema"
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["steps"] == 40 and summary["train_clips"] == 8 and summary["val_clips"] == 2
    assert (out / "loss_curve.png").is_file()
    # The export is what the inference pipeline loads (Griffin-Lim stands in for the vocoder here).
    from deepaudio.pipelines.tts import TTSPipeline

    rows = read_manifest(speech["train"])
    wav, sr = TTSPipeline.from_pretrained(out / "model")("The warm bread.", rows[0].audio_path, ref_text=rows[0].text,
                                                          nfe=4, seed=0)
    assert sr == 24000 and wav.shape[0] == 1 and wav.shape[1] > 2400 and torch.isfinite(wav).all()


def test_resume_continues_exactly(speech, tmp_path):
    """Constant lr after warm-up (final ratio 1), so a 3-step run resumed to 6 must equal a 6-step run."""
    extra = {"--final-lr-ratio": 1.0, "--save-every": 3, "--precision": "bf16"}
    assert _run(_common(speech, tmp_path / "full", 6, **extra)) == 0
    assert _run(_common(speech, tmp_path / "cut", 3, **extra)) == 0
    assert _run(_common(speech, tmp_path / "cut", 3, **extra)) == 2  # existing run: refuse without --resume
    assert _run(_common(speech, tmp_path / "cut", 6, **extra, **{"--resume": None})) == 0
    full, cut = read_log(tmp_path / "full" / "train_log.jsonl"), read_log(tmp_path / "cut" / "train_log.jsonl")
    assert [r["loss"] for r in cut] == [r["loss"] for r in full] and len(full) == 6
    a = load_file(str(tmp_path / "full" / "model" / "model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "model" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_finetune_with_energy_from_a_tts_checkpoint(speech, tmp_path):
    """V2S: --init a plain TTS checkpoint, --energy adds the zero-initialised layer and trains it."""
    from deepaudio.models.tts.config import TTS_PRESETS
    from deepaudio.models.tts.dit import DiT
    from deepaudio.train.tts import vocab_from_texts

    vocab = vocab_from_texts(SENTENCES)
    import dataclasses

    net = DiT(dataclasses.replace(TTS_PRESETS.get("tiny"), text_num_embeds=len(vocab)))
    net.save_pretrained(tmp_path / "init", extra_files={"vocab.txt": vocab.to_text()})
    rows = read_manifest(speech["train"])[:4]
    # The "V2A output" of each clip: here another voice's audio, so energy differs from the speech itself.
    rows = [dataclasses.replace(r, energy_path=rows[(i + 1) % 4].audio_path) for i, r in enumerate(rows)]
    write_manifest(tmp_path / "v2s.csv", rows)
    args = _common(speech, tmp_path / "v2s", 3, **{"--data": tmp_path / "v2s.csv", "--init": tmp_path / "init",
                                                  "--energy": None, "--save-every": 3, "--ema-update-after": 0,
                                                  "--no-mel-cache": None, "--export-dtype": "fp16"})
    for flag in ("--config", "tiny", "--mel-cache", str(speech["root"] / "mel_cache")):
        args.remove(flag)
    assert _run(args) == 0
    out = DiT.from_pretrained(tmp_path / "v2s" / "model")
    assert out.config.energy_input
    assert not (tmp_path / "v2s" / "mel_cache").exists()
    assert load_file(str(tmp_path / "v2s" / "model" / "model.safetensors"))["proj_out.weight"].dtype == torch.float16
    assert out.input_embed.proj_energy.weight.abs().sum() > 0  # trained away from its zero init
    before = dict(net.named_parameters())["transformer_blocks.0.attn.to_q.weight"]
    assert not torch.equal(before, dict(out.named_parameters())["transformer_blocks.0.attn.to_q.weight"])


def test_energy_from_the_clips_own_speech_at_video_rate(speech, tmp_path):
    """--energy-source self needs no energy_path column; --energy-fps caches the video-rate contour."""
    from deepaudio.data.tts import TTSDataset
    from deepaudio.dsp.energy import energy_contour, video_rate_contour
    from deepaudio.io.audio import load_audio
    from deepaudio.models.tts.dit import DiT

    rows = read_manifest(speech["train"])[:3]
    with pytest.raises(InputError, match="no energy_path"):
        TTSDataset(rows, energy=True)
    ds = TTSDataset(rows, energy=True, energy_self=True, energy_fps=25, cache_dir=tmp_path / "cache")
    ds.prepare()
    mel_rate = TTSDataset(rows, energy=True, energy_self=True, cache_dir=tmp_path / "cache")
    item, plain = ds[1], mel_rate[1]
    wav, sr = load_audio(rows[1].audio_path, sample_rate=24000, mono=True)
    n = item["mel"].shape[0]
    assert torch.allclose(item["energy"], video_rate_contour(wav, sr, 25, target_len=n))
    assert torch.allclose(plain["energy"], energy_contour(wav, sr, target_len=n))  # its own cache entry
    assert not torch.allclose(item["energy"], plain["energy"])
    args = _common(speech, tmp_path / "run", 2, **{"--energy": None, "--energy-source": "self", "--energy-fps": 25,
                                                  "--energy-drop": 0.5, "--save-every": 2, "--ema-update-after": 0})
    assert _run(args) == 0
    assert DiT.from_pretrained(tmp_path / "run" / "model").config.energy_input
    summary = json.loads((tmp_path / "run" / "training_summary.json").read_text())
    assert summary["options"]["energy_drop"] == 0.5 and summary["options"]["energy_source"] == "self"


@pytest.mark.parametrize("flags, message", [
    (["--energy-drop", "0.5"], "--energy-drop given without --energy"),
    (["--energy-source", "self"], "--energy-source self given without --energy"),
    (["--energy", "--energy-drop", "1.5"], "--energy-drop must be at most 1"),
    (["--energy", "--energy-source", "self", "--energy-fps", "-25"], "--energy-fps must be at least 0"),
])
def test_energy_options_are_checked(speech, tmp_path, capsys, flags, message):
    args = _common(speech, tmp_path / "bad", 1) + flags
    assert _run(args) != 0
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "bad" / "checkpoints").exists()


def test_span_mask_and_drops():
    lens = torch.tensor([100, 37, 5])
    for seed in range(20):
        g = torch.Generator().manual_seed(seed)
        frac = torch.empty(3).uniform_(0.7, 1.0, generator=g)
        span = random_span_mask(lens, frac, 100, torch.rand(3, generator=g))
        counts = span.sum(1)
        assert ((counts >= (0.7 * lens).floor()) & (counts <= lens)).all()
        assert not (span & ~(torch.arange(100)[None] < lens[:, None])).any()  # never in padding
    flags = []

    class Recorder(torch.nn.Module):
        def forward(self, x, cond, text, t, mask=None, drop_audio_cond=False, drop_text=False, energy=None):
            flags.append((drop_audio_cond, drop_text, energy is not None, bool((cond == 0).any())))
            return x * 0

    obj = TTSFlowMatching(Recorder())
    batch = {"mel": torch.randn(1, 20, 4), "lens": torch.tensor([20]), "text": torch.zeros(1, 3, dtype=torch.long),
             "energy": torch.rand(1, 20)}
    random.seed(0)
    torch.manual_seed(0)
    for _ in range(2000):
        obj(batch)
    audio = sum(a for a, _, _, _ in flags) / len(flags)
    text = sum(t for _, t, _, _ in flags) / len(flags)
    assert abs(text - 0.2) < 0.03 and abs(audio - (0.2 + 0.8 * 0.3)) < 0.03
    assert all(e and z for _, _, e, z in flags)  # energy always passed; a span is always zeroed in cond
    flags.clear()
    obj.eval()(batch)
    assert flags == [(False, False, True, True)]


def test_manifest_errors_name_the_line(tmp_path):
    (tmp_path / "a.csv").write_text("audio_path,text\nmissing.wav,hello\n")
    with pytest.raises(MediaError, match="line 2"):
        read_manifest(tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text("path,text\nx.wav,hi\n")
    with pytest.raises(InputError, match="audio_path"):
        read_manifest(tmp_path / "b.csv")
    save_audio(tmp_path / "x.wav", torch.zeros(1, 2400), 24000)
    (tmp_path / "c.csv").write_text("audio_path,text\nx.wav,\n")
    with pytest.raises(InputError, match="line 2: empty text"):
        read_manifest(tmp_path / "c.csv")


@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted(speech, tmp_path):
    """A real kill (SIGKILL while training), then --resume: the loss sequence matches a clean run."""
    exe = [sys.executable, "-m", "deepaudio.cli.main", "train", "tts"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    extra = {"--save-every": 4}
    subprocess.run(exe + _common(speech, tmp_path / "full", 16, **extra), env=env, check=True, capture_output=True)
    proc = subprocess.Popen(exe + _common(speech, tmp_path / "cut", 16, **extra), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (tmp_path / "cut" / "checkpoints" / "step_00000008").is_dir() and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "cut" / "training_summary.json").exists()  # it really was cut short
    subprocess.run(exe + _common(speech, tmp_path / "cut", 16, **extra, **{"--resume": None}), env=env, check=True,
                   capture_output=True)
    full, cut = read_log(tmp_path / "full" / "train_log.jsonl"), read_log(tmp_path / "cut" / "train_log.jsonl")
    assert [r["loss"] for r in cut] == [r["loss"] for r in full] and len(full) == 16


@pytest.mark.slow
def test_tts_two_processes(speech, tmp_path):
    """torchrun, two gloo ranks through the CLI: the loop checks at every checkpoint that the ranks'
    weights agree (it raises otherwise), and the run exports one EMA model."""
    from test_train_loop import _free_port

    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun), "--nproc_per_node", "2", "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
           "-m", "deepaudio.cli.main", "train", "tts",
           *_common(speech, tmp_path / "ddp", 4, **{"--save-every": 2, "--batch-frames": 400})]
    proc = subprocess.run(cmd, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "ddp" / "training_summary.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 4
    assert (tmp_path / "ddp" / "model" / "model.safetensors").is_file()


def test_several_manifests_are_joined(speech, tmp_path):
    """--data takes several manifests (the toy world's and a speech corpus): their clips train together."""
    rows = read_manifest(speech["train"])
    write_manifest(tmp_path / "a.csv", rows[:5])
    write_manifest(tmp_path / "b.csv", rows[5:])
    out = tmp_path / "run"
    args = _common(speech, out, 2)
    i = args.index("--data")
    args[i + 1: i + 2] = [str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]
    assert _run(args) == 0
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["train_clips"] == 8
    assert summary["options"]["data"] == [str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]
    from deepaudio.text import Vocab

    vocab = Vocab.load(out / "model" / "vocab.txt")  # built from the texts of both manifests
    assert all(ch in vocab.to_text().splitlines() for r in rows[5:] for ch in r.text if ch != " ")
