"""Stage-4 V2S fine-tuning (``deepaudio train v2s``) on real clips: videos with espeak/flite speech, the
contour from a (micro, random-weight) V2A pipeline's output, a tiny TTS checkpoint converted to V2S."""

from __future__ import annotations

import dataclasses
import json
import math
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
from deepaudio.data.v2s import V2SDataset, read_v2s_manifest
from deepaudio.dsp.energy import energy_contour
from deepaudio.errors import InputError, MediaError
from deepaudio.io.audio import load_audio, save_audio
from deepaudio.io.testmedia import moving_square_video
from deepaudio.models.tts.objective import TTSFlowMatching
from deepaudio.pipelines.v2a import V2APipeline
from deepaudio.train.report import read_log

SENTENCES = ["The cat sat on the warm mat.", "We walked home in the rain.", "Please open the window.",
             "Turn left at the old church.", "Dinner is ready now."]


def _speak(text: str, k: int):
    from deepaudio.eval.samples import espeak, flite

    return espeak(text, voice="en-us", speed=200) if k % 2 == 0 else flite(text, voice="slt")


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict:
    """Toy-world layout: manifests/ beside clips/, paths relative to the dataset root."""
    from deepaudio.models.tts.config import TTS_PRESETS
    from deepaudio.models.tts.dit import DiT
    from deepaudio.train.tts import vocab_from_texts
    from deepaudio.train.v2a import V2A_SETUPS, TinyV2AModel, export_pipeline

    root = tmp_path_factory.mktemp("v2s")
    lines = ["video,speech,text,speaker,ambience"]
    for k, text in enumerate(SENTENCES):
        d = root / "clips" / f"{k:02d}"
        d.mkdir(parents=True)
        wav, sr = _speak(text, k)
        seconds = math.ceil(wav.shape[-1] / sr * 4) / 4 + 0.25
        wav = torch.nn.functional.pad(wav, (int(0.1 * sr), int(seconds * sr) - wav.shape[-1] - int(0.1 * sr)))
        save_audio(d / "speech.wav", wav, sr)
        moving_square_video(d / "video.mp4", duration=seconds, width=64, height=48, sample_rate=None)
        amb = ""
        if k == 0:  # one clip with a precomputed V2A output
            t = torch.arange(int(seconds * 16000)) / 16000
            save_audio(d / "amb.wav", (0.2 * torch.sin(2 * math.pi * 2 * t) ** 2)[None], 16000)
            amb = f"clips/{k:02d}/amb.wav"
        lines.append(f"clips/{k:02d}/video.mp4,clips/{k:02d}/speech.wav,{text},s{k % 2},{amb}")
    (root / "manifests").mkdir()
    (root / "manifests" / "train.csv").write_text("\n".join(lines[:5]) + "\n")
    (root / "manifests" / "val.csv").write_text("\n".join([lines[0], lines[5]]) + "\n")
    torch.manual_seed(0)
    setup = V2A_SETUPS.get("micro")
    v2a = TinyV2AModel(setup)
    with torch.no_grad():  # an untrained latent scale that keeps the decoded audio off the clip limit
        v2a.net.latent_mean.zero_()
        v2a.net.latent_std.fill_(1.0)
    export_pipeline(v2a, setup, root / "v2a", {"steps": 0})
    vocab = vocab_from_texts(SENTENCES)
    init = DiT(dataclasses.replace(TTS_PRESETS.get("tiny"), text_num_embeds=len(vocab)))
    init.save_pretrained(root / "init", extra_files={"vocab.txt": vocab.to_text()})
    return {"root": root, "train": root / "manifests" / "train.csv", "val": root / "manifests" / "val.csv",
            "v2a": root / "v2a", "init": root / "init", "init_net": init}


def _args(clips, out: Path, steps: int, **extra) -> list[str]:
    opts = {"--init": clips["init"], "--data": clips["train"], "--out": out, "--v2a": clips["v2a"], "--steps": steps,
            "--lr": 3e-3, "--warmup": 2, "--batch-frames": 700, "--log-every": 1000, "--ema-update-after": 2,
            "--ema-update-every": 1, "--v2a-steps": 2, "--cache": clips["root"] / "cache", **extra}
    return ["train", "v2s", *[str(x) for kv in opts.items() for x in kv if x is not None]]


def test_manifest_layout_and_errors(clips, tmp_path):
    rows = read_v2s_manifest(clips["train"])
    assert len(rows) == 4 and rows[0].video.is_file() and rows[0].ambience is not None and rows[1].ambience is None
    assert rows[1].speaker == "s1" and rows[2].text == SENTENCES[2]
    (tmp_path / "a.csv").write_text("video,text,speech\nnope.mp4,hello,nope.wav\n")
    with pytest.raises(MediaError, match="line 2"):
        read_v2s_manifest(tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text("video,speech\nx.mp4,x.wav\n")
    with pytest.raises(InputError, match="text"):
        read_v2s_manifest(tmp_path / "b.csv")


def test_contours_per_source(clips):
    """v2a: the cached V2A output (or the manifest's ambience); speech: the speech itself; always the
    length of the speech mel, in [0, 1]; the V2A output is generated once and reused."""
    rows = read_v2s_manifest(clips["train"])[:2]
    cache = clips["root"] / "cache_sources"
    ds = V2SDataset(rows, cache, "v2a", clips["v2a"], seed=0, v2a_steps=2,
                    v2a_loader=V2APipeline.from_pretrained)
    items = [ds[i] for i in range(2)]
    assert ds.lengths() == [it["mel"].shape[0] for it in items]
    for i, it in enumerate(items):
        assert it["energy"].shape == it["mel"].shape[:1] and 0 <= it["energy"].min() and it["energy"].max() <= 1
        amb, sr = ds.v2a_output(i)
        assert torch.equal(it["energy"], energy_contour(amb, sr, target_len=it["mel"].shape[0]))
    amb0, _ = load_audio(rows[0].ambience)
    assert torch.equal(ds.v2a_output(0)[0], amb0)  # the manifest's precomputed ambience
    made = sorted((cache / "v2a").rglob("*.wav"))
    assert len(made) == 1  # only clip 1 needed the V2A model
    stamp = made[0].stat().st_mtime_ns
    again = V2SDataset(rows, cache, "v2a", clips["v2a"], seed=0, v2a_steps=2,
                    v2a_loader=V2APipeline.from_pretrained)
    assert torch.equal(again[1]["energy"], items[1]["energy"]) and made[0].stat().st_mtime_ns == stamp
    other = V2SDataset(rows, cache, "v2a", clips["v2a"], seed=1, v2a_steps=2,
                    v2a_loader=V2APipeline.from_pretrained)
    assert not torch.equal(other.v2a_output(1)[0], ds.v2a_output(1)[0])  # another seed, another V2A output
    assert items[1]["energy"].std() > 0.01  # a contour that varies
    sp = V2SDataset(rows, cache, "speech")[1]
    wav, sr = load_audio(rows[1].speech, sample_rate=24000, mono=True)
    assert torch.equal(sp["energy"], energy_contour(wav, sr, target_len=sp["mel"].shape[0]))


def test_tts_checkpoint_gains_a_zero_energy_layer(clips):
    from deepaudio.train.v2s import energy_network

    net, vocab = energy_network(clips["init"])
    assert net.config.energy_input and len(vocab) <= net.config.text_num_embeds
    assert net.input_embed.proj_energy.weight.abs().sum() == 0 and net.input_embed.proj_energy.bias.abs().sum() == 0
    init = clips["init_net"].state_dict()
    state = net.state_dict()
    assert set(state) - set(init) == {"input_embed.proj_energy.weight", "input_embed.proj_energy.bias"}
    assert all(torch.equal(init[k], state[k]) for k in init)
    x, cond = torch.randn(1, 30, 100), torch.randn(1, 30, 100)
    text, t = torch.tensor([[1, 2, 3]]), torch.tensor([0.4])
    plain = clips["init_net"].eval()(x, cond, text, t)
    assert torch.allclose(net.eval()(x, cond, text, t, energy=torch.rand(1, 30)), plain, atol=1e-6)


def test_finetune_energy_and_pipeline(clips, tmp_path):
    """Loss falls, the energy layer leaves zero, and the export drives DeepAudio with task='v2s'."""
    out = tmp_path / "run"
    assert cli(_args(clips, out, 30, **{"--val": clips["val"], "--save-every": 30})) == 0
    losses = [r["loss"] for r in read_log(out / "train_log.jsonl") if "loss" in r]
    assert len(losses) == 30
    first, last = sum(losses[:8]) / 8, sum(losses[-8:]) / 8
    assert last < 0.7 * first, (first, last)
    from deepaudio.models.tts.dit import DiT

    model = DiT.from_pretrained(out / "model")
    assert model.config.energy_input and model.checkpoint_meta["stage"] == "v2s"
    assert model.input_embed.proj_energy.weight.abs().sum() > 0  # trained away from its zero init
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["steps"] == 30 and summary["train_clips"] == 4 and summary["val_clips"] == 1
    from deepaudio.pipelines.deepaudio import DeepAudio

    rows = read_v2s_manifest(clips["train"])
    pipe = DeepAudio.from_pretrained(out / "pipeline")
    res = pipe(video=rows[1].video, task="v2s", transcript="the warm rain.", reference_audio=rows[1].speech,
               reference_text=rows[1].text, tts_kwargs={"nfe": 2}, v2a_kwargs={"steps": 2})
    assert res.speech.shape[0] == 1 and res.speech.shape[-1] == res.ambience.shape[-1]
    assert torch.isfinite(res.speech).all() and res.contour.max() <= 1


def test_resume_equals_uninterrupted_paper_drops(clips, tmp_path):
    """Constant lr after warm-up, so 3 steps resumed to 6 must equal 6 straight (paper drop mode)."""
    extra = {"--final-lr-ratio": 1.0, "--save-every": 3, "--drop-mode": "paper", "--energy-source": "speech"}
    assert cli(_args(clips, tmp_path / "full", 6, **extra)) == 0
    assert cli(_args(clips, tmp_path / "cut", 3, **extra)) == 0
    assert cli(_args(clips, tmp_path / "cut", 3, **extra)) == 2  # existing run: refuse without --resume
    assert cli(_args(clips, tmp_path / "cut", 6, **extra, **{"--resume": None})) == 0
    full, cut = read_log(tmp_path / "full" / "train_log.jsonl"), read_log(tmp_path / "cut" / "train_log.jsonl")
    assert [r["loss"] for r in cut] == [r["loss"] for r in full] and len(full) == 6
    a = load_file(str(tmp_path / "full" / "model" / "model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "model" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_drop_modes():
    from deepaudio.train.v2s import DROP_MODES

    flags = []

    class Recorder(torch.nn.Module):
        def forward(self, x, cond, text, t, mask=None, drop_audio_cond=False, drop_text=False, energy=None):
            flags.append((drop_audio_cond, drop_text, bool(energy.abs().sum() == 0)))
            return x * 0

    batch = {"mel": torch.randn(1, 20, 4), "lens": torch.tensor([20]), "text": torch.zeros(1, 3, dtype=torch.long),
             "energy": torch.rand(1, 20) + 0.1}
    random.seed(0)
    torch.manual_seed(0)
    rates = {}
    for mode, kw in DROP_MODES.items():
        flags.clear()
        obj = TTSFlowMatching(Recorder(), **kw)
        for _ in range(3000):
            obj(batch)
        rates[mode] = [sum(f[j] for f in flags) / len(flags) for j in range(3)]
        flags.clear()
        obj.eval()(batch)
        assert flags == [(False, False, False)]  # nothing dropped in eval
    audio, text, energy = rates["reference"]
    assert abs(text - 0.2) < 0.03 and abs(audio - 0.44) < 0.03 and energy == 0
    assert all(abs(r - 0.25) < 0.03 for r in rates["paper"]), rates["paper"]


def test_cli_errors(clips, tmp_path):
    base = _args(clips, tmp_path / "e", 2)
    no_v2a = base[:base.index("--v2a")] + base[base.index("--v2a") + 2:]
    assert cli(no_v2a) == 2  # clips without ambience need a V2A model
    assert not (tmp_path / "e" / "checkpoints").exists()
    assert cli(base[:base.index("--v2a") + 1] + [str(tmp_path)] + base[base.index("--v2a") + 2:]) == 2
    try:
        import deepaudio.perception.mouth  # noqa: F401
    except ImportError:
        assert cli(base + ["--energy-source", "mouth"]) == 2


@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted(clips, tmp_path):
    """A real kill (SIGKILL while training), then --resume: the loss sequence matches a clean run."""
    exe = [sys.executable, "-m", "deepaudio.cli.main"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    extra = {"--save-every": 4}
    subprocess.run(exe + _args(clips, tmp_path / "full", 16, **extra), env=env, check=True, capture_output=True)
    proc = subprocess.Popen(exe + _args(clips, tmp_path / "cut", 16, **extra), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (tmp_path / "cut" / "checkpoints" / "step_00000008").is_dir() and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "cut" / "training_summary.json").exists()  # it really was cut short
    subprocess.run(exe + _args(clips, tmp_path / "cut", 16, **extra, **{"--resume": None}), env=env, check=True,
                   capture_output=True)
    full, cut = read_log(tmp_path / "full" / "train_log.jsonl"), read_log(tmp_path / "cut" / "train_log.jsonl")
    assert [r["loss"] for r in cut] == [r["loss"] for r in full] and len(full) == 16


def test_mouth_source_on_a_toy_world_talking_face(tmp_path):
    """--energy-source mouth: the contour of the cartoon face's mouth, on the speech's mel grid."""
    from deepaudio.data.toyworld import WORLD_PRESETS, write_dataset
    from deepaudio.perception.mouth import mouth_contour

    cfg = dataclasses.replace(WORLD_PRESETS.get("tiny"), kinds=("talk",))
    write_dataset(tmp_path / "toy", 1, cfg, seed=5, cache_dir=tmp_path / "voices", progress=False)
    csv_path = next(p for p in (tmp_path / "toy" / "manifests").glob("v2s_*.csv") if len(p.read_text().split()) > 1)
    rows = read_v2s_manifest(csv_path)
    item = V2SDataset(rows, tmp_path / "cache", "mouth")[0]
    n = item["mel"].shape[0]
    assert torch.equal(item["energy"], mouth_contour(rows[0].video, n_frames=n))
    wav, sr = load_audio(rows[0].speech, sample_rate=24000, mono=True)
    speech = energy_contour(wav, sr, target_len=n)
    r = torch.corrcoef(torch.stack([item["energy"], speech]))[0, 1]
    assert r > 0.3, r  # the mouth moves when the voice speaks
