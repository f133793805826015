"""The official-weights path of V2A with tiny random weights in the official layouts: CLIP towers and
tokenizer, preprocessing facts, the sync windows, the ``mmaudio-pipeline`` / ``deepaudio-pipeline``
bundle converters and an end-to-end pipeline run, all offline."""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path

import pytest
import torch
import yaml

from deepaudio.checkpoint import load_model
from deepaudio.config import to_dict
from deepaudio.convert.registry import get_converter
from deepaudio.errors import CheckpointError, ConfigError
from deepaudio.models.encoders.clip import CLIP_MEAN, CLIP_PRESETS, CLIP_STD, OpenCLIP
from deepaudio.models.encoders.clip_tokenizer import CLIPTokenizer, byte_symbols
from deepaudio.models.encoders.synchformer import Synchformer, SynchformerConfig
from deepaudio.models.v2a.config import MMAUDIO_PRESETS, VAE_PRESETS
from deepaudio.models.v2a.mmdit import MMAudioNet
from deepaudio.models.v2a.official import OfficialEncoders, clip_pixels, sync_pixels
from deepaudio.models.v2a.vae import MelVAE
from deepaudio.models.vocoders.bigvgan import BIGVGAN_PRESETS, BigVGAN

MERGES = [("t", "h"), ("th", "e</w>"), ("d", "o"), ("do", "g</w>"), ("b", "a"), ("ba", "rk"), ("r", "k</w>"),
          ("a", "</w>"), ("c", "a"), ("ca", "t</w>")]


def _write_merges(folder, gz=True):
    text = "#version: tiny\n" + "\n".join(f"{a} {b}" for a, b in MERGES) + "\n"
    if gz:
        path = folder / "bpe_simple_vocab_16e6.txt.gz"
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path = folder / "merges.txt"
        path.write_text(text)
    return path


def _tiny_clip_cfg():
    return dataclasses.replace(CLIP_PRESETS.get("tiny"), vocab_size=512 + len(MERGES) + 2)


def _tiny_sync_cfg():
    # 16-frame segments (8 tubelets of 2 frames) as MMAudio's stream needs; 224 px with 32 px patches.
    return SynchformerConfig(embed_dim=32, depth=1, num_heads=4, patch_size=32, temporal_resolution=8)


# ------------------------------------------------------------------------------------- CLIP + tokenizer
def test_tokenizer_vocab_layout_bpe_and_padding(tmp_path):
    tok = CLIPTokenizer.from_file(_write_merges(tmp_path), vocab_size=_tiny_clip_cfg().vocab_size)
    by_byte, by_id = byte_symbols()
    assert by_id[0] == "!" and by_byte[ord("a")] == "a" and len(set(by_byte)) == 256
    assert by_byte[ord(" ")] == chr(256 + 32)  # a non-printable byte maps above 255 (GPT-2 table)
    assert (tok.sot, tok.eot) == (tok.vocab_size - 2, tok.vocab_size - 1)
    ids = tok(["The  DOG, barks!", ""])
    assert ids.shape == (2, 77) and ids.dtype == torch.long
    words = [tok.encoder["the</w>"], tok.encoder["dog</w>"], tok.encoder[",</w>"]]
    assert ids[0, :4].tolist() == [tok.sot, *words]
    assert ids[1, :3].tolist() == [tok.sot, tok.eot, 0]
    long = tok(["cat " * 100])[0]
    assert long[-1] == tok.eot and (long[1:-1] == tok.encoder["cat</w>"]).all()
    # merges.txt (Hugging Face) gives the same ids as open_clip's gz file
    tok2 = CLIPTokenizer.from_file(_write_merges(tmp_path, gz=False), vocab_size=tok.vocab_size)
    assert torch.equal(tok2(["the dog barks"]), tok(["the dog barks"]))


def test_clip_text_tokens_are_causal_and_normalised():
    torch.manual_seed(0)
    clip = OpenCLIP(_tiny_clip_cfg()).eval()
    tokens = torch.randint(0, 500, (2, 77))
    out = clip.encode_text_tokens(tokens)
    assert out.shape == (2, 77, 24)
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(2, 77))
    changed = tokens.clone()
    changed[:, 40:] = 7
    out2 = clip.encode_text_tokens(changed)
    torch.testing.assert_close(out[:, :40], out2[:, :40])  # the causal mask: later tokens never leak back
    assert not torch.allclose(out[:, 40:], out2[:, 40:])
    assert clip.encode_text(tokens, normalize=True).shape == (2, 16)


def test_clip_image_tower_matches_a_manual_vit():
    torch.manual_seed(1)
    clip = OpenCLIP(_tiny_clip_cfg()).eval()
    x = torch.randn(3, 3, 32, 32)
    v = clip.visual
    patches = v.conv1(x).flatten(2).transpose(1, 2)
    h = torch.cat([v.class_embedding.expand(3, 1, -1), patches], 1) + v.positional_embedding
    h = v.ln_pre(h)
    for blk in v.transformer.resblocks:  # reference: torch's MultiheadAttention with the same weights
        mha = torch.nn.MultiheadAttention(32, 4, batch_first=True)
        mha.load_state_dict({"in_proj_weight": blk.attn.in_proj_weight, "in_proj_bias": blk.attn.in_proj_bias,
                             "out_proj.weight": blk.attn.out_proj.weight, "out_proj.bias": blk.attn.out_proj.bias})
        a = blk.ln_1(h)
        h = h + mha(a, a, a, need_weights=False)[0]
        m = blk.mlp.c_fc(blk.ln_2(h))
        h = h + blk.mlp.c_proj(m * torch.sigmoid(1.702 * m))
    ref = torch.nn.functional.normalize(v.ln_post(h[:, 0]) @ v.proj, dim=-1)
    torch.testing.assert_close(clip.encode_image(x, normalize=True), ref, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError):
        clip.encode_image(torch.randn(1, 3, 48, 48))


# ---------------------------------------------------------------------------------- preprocessing
def test_clip_and_sync_preprocessing_facts():
    frames = torch.randint(0, 256, (1, 2, 48, 64, 3), dtype=torch.uint8)
    x = clip_pixels(frames, 32)
    assert x.shape == (1, 2, 3, 32, 32)  # squashed, not cropped
    flat = torch.full((1, 1, 32, 32, 3), 255, dtype=torch.uint8)
    white = clip_pixels(flat, 32)[0, 0, :, 0, 0]
    torch.testing.assert_close(white, (1 - torch.tensor(CLIP_MEAN)) / torch.tensor(CLIP_STD))
    s = sync_pixels(frames, 224)
    assert s.shape == (1, 2, 3, 224, 224) and s.min() >= -1 and s.max() <= 1
    # centre crop of the short-side resize: a frame already 224 high keeps its middle 224 columns
    wide = torch.randint(0, 256, (1, 1, 224, 300, 3), dtype=torch.uint8)
    expect = (wide[0, 0, :, 38:262].permute(2, 0, 1).float() / 255 - 0.5) / 0.5
    torch.testing.assert_close(sync_pixels(wide, 224)[0, 0], expect)


def test_sync_windows_follow_16_frames_stride_8():
    torch.manual_seed(2)
    sync = Synchformer(_tiny_sync_cfg()).eval()
    enc = OfficialEncoders(OpenCLIP(_tiny_clip_cfg()), sync,
                           CLIPTokenizer([*MERGES], vocab_size=_tiny_clip_cfg().vocab_size), clip_size=32)
    frames = torch.randint(0, 256, (1, 40, 224, 224, 3), dtype=torch.uint8)
    out = enc.encode_sync(frames)
    assert out.shape == (1, ((40 - 16) // 8 + 1) * 8, 32)
    # segment k covers frames 8k .. 8k+15 and gives tokens 8k .. 8k+7
    seg = sync(sync_pixels(frames[:, 8:24], 224)[:, None])  # (1, 1, 8, D)
    torch.testing.assert_close(out[:, 8:16], seg[:, 0], atol=1e-5, rtol=1e-5)
    enc.train()
    assert not enc.training and not enc.clip.training


# ------------------------------------------------------------------------------ bundle converters
def make_official_files(root):
    """Tiny random files in the released layouts (network, VAE, BigVGAN + yml, Synchformer, CLIP folder)."""
    torch.manual_seed(3)
    clip_cfg, sync_cfg, vae_cfg = _tiny_clip_cfg(), _tiny_sync_cfg(), VAE_PRESETS.get("tiny")
    net_cfg = dataclasses.replace(MMAUDIO_PRESETS.get("tiny"), latent_dim=vae_cfg.embed_dim, clip_dim=16,
                                  sync_dim=32, text_dim=24, text_seq_len=77, latent_seq_len=32, clip_seq_len=8,
                                  sync_seq_len=24)
    net = MMAudioNet(net_cfg)
    with torch.no_grad():
        net.latent_mean.zero_()
        net.latent_std.fill_(1.0)
    torch.save(net.state_dict(), root / "mmaudio_small_16k.pth")
    torch.save(MelVAE(vae_cfg).state_dict(), root / "v1-16.pth")
    voc = BigVGAN(BIGVGAN_PRESETS.get("tiny"))
    torch.save({"generator": voc.state_dict()}, root / "best_netG.pt")
    (root / "bigvgan_vocoder.yml").write_text(yaml.safe_dump(
        {k: list(v) if isinstance(v, tuple) else v for k, v in to_dict(BIGVGAN_PRESETS.get("tiny")).items()}))
    state = {f"vfeat_extractor.{k}": v for k, v in Synchformer(sync_cfg).vfeat_extractor.state_dict().items()}
    state["afeat_extractor.x"] = torch.zeros(2)  # the released file also holds the audio branch
    torch.save(state, root / "synchformer_state_dict.pth")
    clip_dir = root / "DFN5B-CLIP-tiny"
    clip_dir.mkdir()
    clip = OpenCLIP(clip_cfg)
    torch.save(clip.state_dict(), clip_dir / "open_clip_pytorch_model.bin")
    (clip_dir / "open_clip_config.json").write_text(json.dumps({"model_cfg": {
        "embed_dim": 16, "quick_gelu": True,
        "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 8, "patch_size": 8},
        "text_cfg": {"context_length": 77, "vocab_size": clip_cfg.vocab_size, "width": 24, "heads": 4,
                     "layers": 2}}}))
    _write_merges(clip_dir)
    files = [root / n for n in ("mmaudio_small_16k.pth", "v1-16.pth", "best_netG.pt", "bigvgan_vocoder.yml",
                                "synchformer_state_dict.pth")] + [clip_dir]
    return root, files, clip


@pytest.fixture(scope="module")
def official_files(tmp_path_factory):
    return make_official_files(tmp_path_factory.mktemp("official"))


def test_open_clip_converter_loads_strictly_and_keeps_the_tokenizer(official_files, tmp_path):
    root, _, clip = official_files
    out = get_converter("open-clip").fn([root / "DFN5B-CLIP-tiny"], tmp_path / "clip", {})
    ours = load_model(out, expect_kind="open_clip")
    assert ours.config == clip.config
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(ours.encode_image(x), clip.eval().encode_image(x))
    assert (out / "bpe_simple_vocab_16e6.txt.gz").is_file()
    # a bare weight file: the shapes + defaults must be completed by options (head width is not in the shapes)
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "clip.bin").write_bytes((root / "DFN5B-CLIP-tiny" / "open_clip_pytorch_model.bin").read_bytes())
    with pytest.raises(CheckpointError, match="merges"):
        get_converter("open-clip").fn([bare / "clip.bin"], tmp_path / "c2", {})
    (bare / "my_vocab.txt").write_text("#v\n" + "\n".join(f"{a} {b}" for a, b in MERGES) + "\n")
    opts = {"clip_tokenizer": str(bare / "my_vocab.txt"), "clip_vision_heads": "4", "clip_text_heads": "4"}
    c2 = get_converter("open-clip").fn([bare / "clip.bin"], tmp_path / "c2", opts)
    assert load_model(c2).config == clip.config and (c2 / "merges.txt").is_file()
    with pytest.raises(ConfigError):
        get_converter("open-clip").fn([bare / "clip.bin"], tmp_path / "c3", {**opts, "clip_vision_heads": "5"})


def test_mmaudio_pipeline_converter_and_end_to_end_run(official_files, tmp_path):
    from deepaudio.io.testmedia import moving_square_video
    from deepaudio.pipelines.v2a import V2APipeline

    root, files, _ = official_files
    out = get_converter("mmaudio-pipeline").fn(files, tmp_path / "v2a", {})
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["kind"] == "v2a_pipeline" and cfg["config"]["encoder"]["type"] == "official"
    assert cfg["config"]["window"] == 8.0  # sequence lengths are not in the weights: MMAudio's 8 s default
    pipe = V2APipeline.from_pretrained(out)
    assert isinstance(pipe.encoder, OfficialEncoders) and (pipe.encoder.clip_size, pipe.encoder.sync_size) == (32, 224)
    video = moving_square_video(tmp_path / "in.mp4", duration=1.5, width=64, height=48).path
    wav, sr = pipe(video, prompt="the dog barks", steps=2, seed=0)
    from deepaudio.io.video import probe_video

    n = round(probe_video(video).duration * sr)
    assert sr == 16000 and wav.shape[0] == 1 and abs(wav.shape[1] - n) <= 1 and torch.isfinite(wav).all()
    wav2, _ = pipe(video, prompt="the dog barks", steps=2, seed=0)
    assert torch.equal(wav, wav2)
    text = pipe.encoder.encode_text(["the dog barks", ""])
    assert text.shape == (2, 77, 24)
    # parts named explicitly; a missing part and mismatched widths are user errors
    named = {"net": str(files[0]), "vae": str(files[1]), "synchformer": str(files[4]), "clip": str(files[5])}
    named_out = get_converter("mmaudio-pipeline").fn(files[2:4], tmp_path / "v2a_named", {**named, "window": "1"})
    assert json.loads((named_out / "config.json").read_text())["config"]["window"] == 1.0
    # files with neutral names are recognised by their tensors
    import shutil

    plain = [shutil.copy(f, tmp_path / f"part{i}{f.suffix}") for i, f in enumerate(files[:5])] + [files[5]]
    plain_out = get_converter("mmaudio-pipeline").fn(list(map(Path, plain)), tmp_path / "v2a_plain", {})
    assert json.loads((plain_out / "config.json").read_text())["meta"]["sources"]["net"] == ["part0.pth"]
    with pytest.raises(ConfigError, match="missing"):
        get_converter("mmaudio-pipeline").fn(files[:4], tmp_path / "bad", {})
    other = MMAudioNet(dataclasses.replace(MMAUDIO_PRESETS.get("tiny"), latent_dim=4, clip_dim=16, sync_dim=12,
                                           text_dim=24, text_seq_len=77))
    with torch.no_grad():
        other.latent_mean.zero_()
        other.latent_std.fill_(1.0)
    torch.save(other.state_dict(), tmp_path / "mmaudio_other.pth")
    with pytest.raises(ConfigError, match="sync_dim"):
        get_converter("mmaudio-pipeline").fn([tmp_path / "mmaudio_other.pth", *files[1:]], tmp_path / "bad2", {})
    assert not (tmp_path / "bad2").exists()


def test_convert_cli_builds_the_pipeline_and_reports_user_errors(official_files, tmp_path, capsys):
    from deepaudio.cli.main import main

    _, files, _ = official_files
    assert main(["convert", "mmaudio-pipeline", *map(str, files), "-o", str(tmp_path / "p")]) == 0
    assert (tmp_path / "p" / "clip" / "bpe_simple_vocab_16e6.txt.gz").is_file()
    cfg = json.loads((tmp_path / "p" / "config.json").read_text())["config"]
    cfg["encoder"]["dtype"] = "bfloat16"
    (tmp_path / "p" / "config.json").write_text(json.dumps({"format_version": 1, "kind": "v2a_pipeline",
                                                            "config": cfg}))
    enc = OfficialEncoders.from_config(tmp_path / "p", cfg["encoder"])
    assert enc.dtype == torch.bfloat16 and enc.encode_text(["a cat"]).dtype == torch.bfloat16
    capsys.readouterr()
    assert main(["convert", "mmaudio-pipeline", str(files[0]), "-o", str(tmp_path / "q")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("deepaudio: error:") and "missing MMAudio part" in err and "\n" not in err


def test_deepaudio_pipeline_converter(official_files, tmp_path):
    from deepaudio.models.tts.config import TTS_PRESETS
    from deepaudio.models.tts.dit import DiT
    from deepaudio.pipelines.deepaudio import DeepAudio

    _, files, _ = official_files
    v2a = get_converter("mmaudio-pipeline").fn(files, tmp_path / "v2a", {})
    tts = DiT(dataclasses.replace(TTS_PRESETS.get("tiny"), energy_input=True)).save_pretrained(
        tmp_path / "tts", extra_files={"vocab.txt": "\n".join([" ", *"abcdefghijklmnopqrstuvwxyz"]) + "\n"})
    from deepaudio.models.vocoders.vocos import VOCOS_PRESETS, Vocos

    voc = Vocos(VOCOS_PRESETS.get("tiny")).save_pretrained(tmp_path / "vocos")
    out = get_converter("deepaudio-pipeline").fn([v2a, tts, voc], tmp_path / "bundle", {})
    cfg = json.loads((out / "config.json").read_text())["config"]
    assert cfg == {"v2a": "v2a", "tts": "tts", "v2s": "tts", "vocoder": "vocoder"}
    # weights are hard-linked, not copied (same file system here)
    assert (out / "v2a" / "clip" / "model.safetensors").samefile(v2a / "clip" / "model.safetensors")
    pipe = DeepAudio.from_pretrained(out)
    assert pipe.v2a is not None and pipe.tts is pipe.v2s and isinstance(pipe.tts.vocoder, Vocos)
    with pytest.raises(ConfigError):
        get_converter("deepaudio-pipeline").fn([files[0]], tmp_path / "bad", {})
    with pytest.raises(CheckpointError):
        get_converter("deepaudio-pipeline").fn([v2a], tmp_path / "bad", {"tts": str(v2a)})


# ------------------------------------------------------------------------ reference vectors (official code)
DATA = Path(__file__).parent / "data"


def test_clip_matches_open_clip_reference_vectors():
    """tests/data/open_clip_tiny.safetensors: a tiny random open_clip ``CLIP`` (QuickGELU, 8 px patches) and
    its outputs computed by open_clip's own model code: ``encode_image(normalize=True)``, MMAudio's patched
    per-token ``encode_text`` and the pooled ``encode_text``. The state dict must load strictly."""
    from safetensors import safe_open

    from deepaudio.checkpoint import load_state_strict
    from deepaudio.convert.bundles import infer_clip_config

    path = DATA / "open_clip_tiny.safetensors"
    with safe_open(str(path), framework="pt") as f:
        kwargs = json.loads(f.metadata()["kwargs"])
        t = {k: f.get_tensor(k) for k in f.keys()}
    state = {k[len("weights."):]: v for k, v in t.items() if k.startswith("weights.")}
    cfg = infer_clip_config(state, path, kwargs)
    clip = OpenCLIP(cfg).eval()
    load_state_strict(clip, state, path)
    torch.testing.assert_close(clip.encode_image(t["in.pixels"], normalize=True), t["out.image"], atol=1e-6, rtol=0)
    torch.testing.assert_close(clip.encode_text_tokens(t["in.tokens"]), t["out.text_tokens"], atol=1e-6, rtol=0)
    torch.testing.assert_close(clip.encode_text(t["in.tokens"], normalize=True), t["out.text_pooled"], atol=1e-6,
                               rtol=0)


def test_tokenizer_matches_open_clip_ids():
    """Needs the real merges file (open_clip's bpe_simple_vocab_16e6.txt.gz, not shipped): set
    DEEPAUDIO_CLIP_BPE=/path/to/it. The expected ids were produced by open_clip's SimpleTokenizer."""
    import os

    bpe = os.environ.get("DEEPAUDIO_CLIP_BPE")
    if not bpe:
        pytest.skip("set DEEPAUDIO_CLIP_BPE to open_clip's bpe_simple_vocab_16e6.txt.gz")
    tok = CLIPTokenizer.from_file(bpe, vocab_size=49408)
    cases = json.loads((DATA / "clip_tokenizer_reference.json").read_text())["cases"]
    got = tok([c["text"] for c in cases])
    for row, case in zip(got, cases):
        ids = case["ids"]
        assert row[: len(ids)].tolist() == ids and not row[len(ids):].any(), case["text"]


def test_text_to_audio_without_a_video(official_files, tmp_path, capsys):
    """MMAudio's no-video mode: the visual streams are the network's empty features, the prompt steers."""
    from deepaudio.cli.main import main
    from deepaudio.pipelines.v2a import V2APipeline

    _, files, _ = official_files
    out = get_converter("mmaudio-pipeline").fn(files, tmp_path / "v2a", {})
    pipe = V2APipeline.from_pretrained(out)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():  # away from the zero-initialised output layers, so the conditions show
        for name, p in pipe.net.named_parameters():
            if "latent_" not in name:
                p.add_(0.05 * torch.randn(p.shape, generator=gen))
    rain, sr = pipe(None, prompt="rain on a tin roof", duration=1.5, steps=2, seed=0)
    dog, _ = pipe(None, prompt="a dog barks", duration=1.5, steps=2, seed=0)
    assert rain.shape == (1, round(1.5 * sr)) and torch.isfinite(rain).all() and not torch.equal(rain, dog)
    wav = tmp_path / "rain.wav"
    assert main(["v2a", "--model", str(out), "--prompt", "rain on a tin roof", "--duration", "1.5", "--steps", "2",
                 "--seed", "0", "-o", str(wav), "--device", "cpu"]) == 0
    assert wav.is_file()
    for bad, msg in ((["--duration", "2"], "needs a --prompt"), (["--prompt", "rain"], "positive --duration"),
                     (["--prompt", "rain", "--duration", "2", "--mux", str(tmp_path / "x.mp4")], "--mux needs")):
        assert main(["v2a", "--model", str(out), "-o", str(tmp_path / "bad.wav"), *bad]) == 2
        assert msg in capsys.readouterr().err
    assert not (tmp_path / "bad.wav").exists()


def test_official_prompt_reaches_the_text_encoder(official_files, tmp_path):
    """With official weights --prompt is used: another prompt gives other audio, the same prompt the same."""
    from deepaudio.io.testmedia import moving_square_video
    from deepaudio.pipelines.v2a import V2APipeline

    _, files, _ = official_files
    # DiT init zeroes the adaLN and output layers, so a fresh network ignores every condition: give the
    # zero tensors random values (a "trained" network) so that what the conditions carry reaches the output.
    state = torch.load(files[0], weights_only=True)
    g = torch.Generator().manual_seed(0)
    for k, v in state.items():
        if v.is_floating_point() and not v.any() and "latent_mean" not in k:
            state[k] = 0.1 * torch.randn(v.shape, generator=g)
    torch.save(state, tmp_path / "mmaudio_small_16k.pth")
    parts = [tmp_path / "mmaudio_small_16k.pth", *files[1:]]
    pipe = V2APipeline.from_pretrained(get_converter("mmaudio-pipeline").fn(parts, tmp_path / "v2a", {}))
    assert pipe.text_conditioning and not pipe.ignores_prompt("rain")
    video = moving_square_video(tmp_path / "in.mp4", duration=1.0, width=64, height=48).path
    runs = {p: pipe(video, prompt=p, steps=2, seed=0)[0] for p in ("a dog barks", "heavy rain on a roof", "")}
    assert not torch.allclose(runs["a dog barks"], runs["heavy rain on a roof"])
    assert not torch.allclose(runs["a dog barks"], runs[""])
    assert torch.equal(runs["a dog barks"], pipe(video, prompt="a dog barks", steps=2, seed=0)[0])
    negative = pipe(video, prompt="a dog barks", negative_prompt="music", steps=2, seed=0)[0]
    assert not torch.allclose(negative, runs["a dog barks"])
