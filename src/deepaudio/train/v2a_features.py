"""Stage 1 with the official frozen encoders: feature extraction into shards, and MM-DiT training on them.

As MMAudio's ``training/extract_video_training_latents.py``, every clip is encoded once by the frozen
parts of a converted ``v2a_pipeline`` folder (``deepaudio convert mmaudio-pipeline``): CLIP image features
at 8 fps (``clip_f``), Synchformer features at 25 fps (``sync_f``), CLIP per-token text features of the
prompt (``text_f``) and the VAE posterior of the audio's mel (``mean``, ``std``; a latent is sampled from it
at every training step as MMAudio does). Clips are cut to ``duration`` seconds from their start.

Shards: ``shard_NNNNN.safetensors`` each covering ``shard_size`` consecutive manifest rows (unusable
clips are left out; ``row`` names the manifest row of each sample), written atomically; ``index.json``
holds the settings. Extraction resumes by skipping the shards that exist; an index with other settings
is refused rather than mixed. Training (``deepaudio train v2a --config small_16k --features DIR``) reads
rows lazily from the shards, so datasets larger than memory train too.

Shape key: N samples, T8 CLIP frames, S8 sync tokens, L text tokens, Nl latents, C latent channels.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from deepaudio.checkpoint import load_model, read_config, write_config
from deepaudio.errors import ConfigError, DeepAudioError, InputError
from deepaudio.flow import FlowPath
from deepaudio.io.atomic import atomic_dir, atomic_path
from deepaudio.models.v2a.bundle import read_v2a_bundle
from deepaudio.models.v2a.config import MMAUDIO_PRESETS, MMAudioConfig
from deepaudio.models.v2a.mmdit import MMAudioNet
from deepaudio.models.v2a.sequence import CLIP_FPS, SYNC_FPS, SequencePlan, fit_frames
from deepaudio.train.batching import FrameBudgetBatcher

INDEX_NAME = "index.json"
FEATURE_KEYS = ("clip_f", "sync_f", "text_f", "mean", "std", "has_text", "row")


def _shard_path(folder: Path, k: int) -> Path:
    return folder / f"shard_{k:05d}.safetensors"


def _index_settings(pipeline: Path, duration: float, shard_size: int, rows: int, plan: SequencePlan) -> dict:
    return {"format": 1, "pipeline": str(pipeline.resolve()), "duration": duration, "shard_size": shard_size,
            "rows": rows, "latent_len": plan.latent, "clip_len": plan.clip_frames, "sync_len": plan.sync_tokens}


class OfficialFeatureExtractor:
    """The frozen parts of a ``v2a_pipeline`` folder and the clip plan; ``encode(item, row)`` -> one sample."""

    def __init__(self, pipeline: Path, duration: float, device: str | torch.device = "cpu"):
        from deepaudio.dsp.mel import MMAUDIO_16K, MMAUDIO_44K
        from deepaudio.models.v2a.official import OfficialEncoders

        self.pipeline = Path(pipeline)
        bundle = read_v2a_bundle(self.pipeline)
        if bundle.encoder.type != "official" or bundle.codec.type != "mmaudio":
            raise ConfigError("feature extraction needs a pipeline with the official encoders and the MMAudio VAE",
                              self.pipeline, "build one with: deepaudio convert mmaudio-pipeline")
        self.encoders = OfficialEncoders.from_config(self.pipeline, bundle.encoder, device=device)
        self.vae = load_model(self.pipeline / bundle.codec.vae, device=device, expect_kind="mmaudio_vae")
        self.mel = MMAUDIO_16K if self.vae.config.data_dim == 80 else MMAUDIO_44K
        down = self.vae.config.downsample
        self.plan = SequencePlan.for_duration(duration, self.mel.sample_rate / self.mel.hop_length / down)
        # The audio spans exactly the latents (MMAudio: latent_seq_len * hop * 2 samples, 128000 for 8 s at 16 kHz).
        self.n_samples = self.plan.latent * self.mel.hop_length * down
        self.duration, self.device = duration, device

    @torch.no_grad()
    def encode(self, item: dict[str, str], row: int) -> dict[str, torch.Tensor] | None:
        """Features of one manifest row, or None when it is shorter than the clip (MediaErrors propagate)."""
        from deepaudio.dsp.mel import mel_spectrogram
        from deepaudio.io.audio import load_audio
        from deepaudio.io.video import read_frames

        enc, plan, sr = self.encoders, self.plan, self.mel.sample_rate
        f8, _ = read_frames(item["video"], fps=CLIP_FPS, size=enc.clip_size, crop="resize", duration=self.duration)
        f25, _ = read_frames(item["video"], fps=SYNC_FPS, size=enc.sync_size, crop="center", duration=self.duration)
        wav, _ = load_audio(item.get("audio", item["video"]), sample_rate=sr, mono=True)
        if wav.shape[-1] < 0.95 * self.duration * sr or f25.shape[0] < 0.95 * plan.sync_frames:
            return None
        wav = torch.nn.functional.pad(wav[:, : self.n_samples], (0, max(0, self.n_samples - wav.shape[-1])))
        clip_f, sync_f = enc.encode_video(fit_frames(f8, plan.clip_frames)[None],
                                          fit_frames(f25, plan.sync_frames)[None])
        spec = mel_spectrogram(wav.to(self.device), self.mel)[..., : plan.latent * self.vae.config.downsample]
        post = self.vae.encode_latents(spec)
        prompt = item.get("prompt", "")
        out = {"clip_f": clip_f[0], "sync_f": sync_f[0],
               "text_f": enc.encode_text([prompt])[0],  # "" gives the network's empty_string_feat
               "mean": post.mean[0, : plan.latent], "std": post.std[0, : plan.latent]}
        out = {k: v.float().cpu() for k, v in out.items()}
        return {**out, "has_text": torch.tensor(bool(prompt)), "row": torch.tensor(row)}


def extract_official_features(items: list[dict[str, str]], pipeline: Path, out_dir: Path, duration: float = 8.0,
                              shard_size: int = 256, device: str | torch.device = "cpu",
                              part: tuple[int, int] = (0, 1)) -> list[Path]:
    """Encode every manifest row with the pipeline's frozen encoders and VAE; returns all shard paths.

    ``part=(rank, world)``: this process extracts only the shards whose file name hashes to it
    (:func:`deepaudio.distributed.owner`, as the batch commands share their items)."""
    from tqdm import tqdm

    from deepaudio.distributed import owner

    ex = OfficialFeatureExtractor(pipeline, duration, device)
    settings = _index_settings(ex.pipeline, duration, shard_size, len(items), ex.plan)
    out_dir.mkdir(parents=True, exist_ok=True)
    index = out_dir / INDEX_NAME
    if index.is_file() and json.loads(index.read_text()) != settings:
        raise ConfigError("this feature folder was extracted with other settings", index,
                          "use a new --features folder, or the same pipeline, duration and manifest")
    if not index.is_file() and part[0] == 0:  # one writer: under torchrun the other ranks read it after the barrier
        with atomic_path(index) as tmp:
            tmp.write_text(json.dumps(settings, indent=2) + "\n")
    shards, skipped = [], 0
    for k in tqdm(range(math.ceil(len(items) / shard_size)), desc="extract", unit="shard", file=sys.stderr):
        path = _shard_path(out_dir, k)
        shards.append(path)
        if path.exists() or owner(path.name, part[1]) != part[0]:
            continue
        samples = []
        for r in range(k * shard_size, min(len(items), (k + 1) * shard_size)):
            try:
                sample = ex.encode(items[r], r)
            except DeepAudioError as exc:
                sample = None
                tqdm.write(f"skipping {items[r]['video']}: {exc}", file=sys.stderr)
            skipped += sample is None
            if sample is not None:
                samples.append(sample)
        tensors = ({key: torch.stack([smp[key] for smp in samples]).contiguous() for key in FEATURE_KEYS} if samples
                   else {"row": torch.zeros(0, dtype=torch.long)})
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata={"pipeline": settings["pipeline"]})
    if skipped:
        print(f"extract: skipped {skipped} clip(s) (unreadable or shorter than {duration} s)", file=sys.stderr)
    return shards


class FeatureShards:
    """Samples of a feature folder, read row by row from the shards (``epoch_batches`` / ``load``)."""

    def __init__(self, folder: Path, batch: int, seed: int = 0, shuffle: bool = True):
        folder = Path(folder)
        index = folder / INDEX_NAME
        if not index.is_file():
            raise InputError("not a feature folder (no index.json)", folder,
                             "extract first: deepaudio train v2a --data CSV --pipeline DIR --features DIR")
        self.settings = json.loads(index.read_text())
        self.entries: list[tuple[Path, int]] = []
        k = 0
        while _shard_path(folder, k).is_file():
            with safe_open(str(_shard_path(folder, k)), framework="pt") as f:
                count = f.get_slice("row").get_shape()[0]
            self.entries += [(_shard_path(folder, k), i) for i in range(count)]
            k += 1
        if not self.entries:
            raise InputError("the feature folder holds no samples", folder)
        self.batcher = FrameBudgetBatcher.build([1] * len(self.entries), batch, batch, seed=seed, shuffle=shuffle)

    def __len__(self) -> int:
        return len(self.entries)

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        return self.batcher.epoch_batches(epoch)

    def load(self, key: list[int]) -> dict[str, torch.Tensor]:
        out: dict[str, list[torch.Tensor]] = {k: [] for k in FEATURE_KEYS}
        for i in key:
            path, row = self.entries[i]
            with safe_open(str(path), framework="pt") as f:
                for k in FEATURE_KEYS:
                    out[k].append(f.get_slice(k)[row])
        return {k: torch.stack(v) for k, v in out.items()}

    def latent_statistics(self, limit: int = 2000) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel mean/std of the posterior means (MMAudio's ``latent_mean``/``latent_std``)."""
        means = self.load(list(range(min(limit, len(self)))))["mean"].flatten(0, 1)  # (N*Nl, C)
        return means.mean(0), means.std(0).clamp_min(1e-3)


class FeatureV2AModel(nn.Module):
    """MM-DiT on pre-extracted official features; ``forward(batch)`` is the flow loss with condition dropout
    (video and text dropped independently with probability ``cond_drop``, replaced by the empty features)."""

    def __init__(self, config: MMAudioConfig, cond_drop: float = 0.1):
        super().__init__()
        self.net = MMAudioNet(config)
        self.cond_drop = cond_drop
        self.path = FlowPath(0.0)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        net = self.net
        mean, std = batch["mean"], batch["std"]
        b, dev = mean.shape[0], mean.device
        x1 = net.normalize(mean + std * torch.randn_like(std))  # a posterior sample, as MMAudio trains
        video_keep = torch.rand(b, device=dev) >= self.cond_drop
        text_keep = (torch.rand(b, device=dev) >= self.cond_drop) & batch["has_text"].bool()
        clip_f, sync_f, text_f = net.mask_conditions(batch["clip_f"], batch["sync_f"], batch["text_f"], video_keep,
                                                     text_keep)
        x0 = torch.randn_like(x1)
        t = torch.rand(b, device=dev)
        return self.path.loss(net(self.path.interpolate(x0, x1, t), clip_f, sync_f, text_f, t), x0, x1)


def network_config(preset: str, settings: dict, sample: dict[str, torch.Tensor]) -> MMAudioConfig:
    """The preset (hidden size, depth) with the sequence lengths of the extracted clips and the condition and
    latent widths of the frozen encoders/VAE that produced them (for the released parts these are the
    preset's own: CLIP 1024, Synchformer 768, 77 text tokens, 20 or 40 latent channels)."""
    return dataclasses.replace(MMAUDIO_PRESETS.get(preset), latent_seq_len=settings["latent_len"],
                               clip_seq_len=settings["clip_len"], sync_seq_len=settings["sync_len"],
                               clip_dim=sample["clip_f"].shape[-1], sync_dim=sample["sync_f"].shape[-1],
                               text_dim=sample["text_f"].shape[-1], text_seq_len=sample["text_f"].shape[-2],
                               latent_dim=sample["mean"].shape[-1])


def export_feature_pipeline(model: FeatureV2AModel, source: Path, window: float, folder: Path, meta: dict) -> None:
    """A ``v2a_pipeline`` folder: the trained ``net/`` beside the source pipeline's frozen parts (hard links)."""
    from deepaudio.convert.bundles import link_or_copy_tree

    cfg = read_config(source, "v2a_pipeline")["config"]
    enc, codec = dict(cfg["encoder"]), dict(cfg["codec"])
    bundle = read_v2a_bundle(source)
    with atomic_dir(folder) as tmp:
        model.net.save_pretrained(tmp / "net", meta=meta)
        parts = {bundle.encoder.clip, bundle.encoder.synchformer, bundle.codec.vae, bundle.codec.vocoder or "vocoder"}
        for sub in parts:
            link_or_copy_tree(source / sub, tmp / sub)
        write_config(tmp, "v2a_pipeline", {"net": "net", "encoder": enc, "codec": codec, "window": window}, meta)


def _validation_shards(args, features: Path, settings: dict, acc, device) -> FeatureShards | None:
    """``--val``: a feature folder, or a manifest CSV extracted (with the training pipeline and duration) into
    ``<features>-val``; the same batches at every evaluation."""
    from deepaudio.train.batching import FixedBatches
    from deepaudio.train.v2a import read_manifest

    if getattr(args, "val", None) is None:
        return None
    folder = Path(args.val)
    if not folder.is_dir():
        folder = features.with_name(features.name + "-val")
        extract_official_features(read_manifest(Path(args.val)), Path(settings["pipeline"]), folder,
                                  settings["duration"], settings["shard_size"], device,
                                  part=(acc.process_index, acc.num_processes))
        acc.wait_for_everyone()
    val = FeatureShards(folder, args.batch, seed=0, shuffle=False)
    keys = ("latent_len", "clip_len", "sync_len", "pipeline")
    if any(val.settings[k] != settings[k] for k in keys):
        raise ConfigError("validation features were extracted with other settings than the training ones", folder)
    val.batcher = FixedBatches(tuple(tuple(b) for b in val.batcher.epoch_batches(0)))
    return val


def _init_network(model: FeatureV2AModel, data: FeatureShards, init: Path | None) -> None:
    """Weights of ``init`` (a converted or trained network, which keeps its latent statistics), or the
    latent statistics of the training features for a network trained from scratch."""
    if init is not None:
        from deepaudio.checkpoint import load_state_strict

        net = load_model(init / "net" if (init / "net").is_dir() else init, expect_kind="mmaudio_net")
        load_state_strict(model.net, {k: v.float() for k, v in net.state_dict().items()}, init)
        return
    mean, std = data.latent_statistics()
    with torch.no_grad():
        model.net.latent_mean.copy_(mean.view(1, 1, -1))
        model.net.latent_std.copy_(std.view(1, 1, -1))


def main_features(args) -> int:
    """``deepaudio train v2a --config PRESET --features DIR [--data CSV --pipeline DIR] [--val CSV|DIR]``.

    Under ``torchrun`` every process extracts its share of the shards (by the hash of the shard's name)."""
    from deepaudio.train.loop import TrainConfig, make_accelerator, train
    from deepaudio.train.v2a import read_manifest

    features = Path(args.features)
    cfg = TrainConfig(steps=args.steps, lr=args.lr, warmup=args.warmup, final_lr_ratio=0.05, seed=args.seed,
                      precision=args.precision, save_every=args.save_every, val_every=args.val_every,
                      log_every=max(1, min(50, args.steps // 10)))
    acc = make_accelerator(cfg)
    device = acc.device if args.device == "auto" else torch.device(args.device)
    if args.data is not None:
        if args.pipeline is None:
            raise ConfigError("extracting official features needs --pipeline DIR (a converted MMAudio pipeline)")
        extract_official_features(read_manifest(args.data), args.pipeline, features, args.duration,
                                  args.shard_size, device, part=(acc.process_index, acc.num_processes))
        acc.wait_for_everyone()
        if args.extract_only:
            if acc.is_main_process:
                print(f"wrote {features}")
            return 0
    data = FeatureShards(features, args.batch, args.seed)
    settings = data.settings
    val = _validation_shards(args, features, settings, acc, device)
    if val is None:
        cfg = dataclasses.replace(cfg, val_every=0)
    config = network_config(args.config, settings, data.load([0]))
    torch.manual_seed(args.seed)
    model = FeatureV2AModel(config, args.cond_drop)
    _init_network(model, data, Path(args.init) if args.init is not None else None)
    meta = {"stage": "v2a", "command": " ".join(sys.argv), "setup": args.config, "features": str(features),
            "clips": len(data), "net": dataclasses.asdict(config)}

    def export(module: nn.Module, folder: Path) -> None:
        export_feature_pipeline(module, Path(settings["pipeline"]), settings["duration"], folder,
                                {**meta, "steps": args.steps})

    train(model, data, cfg, args.out, val=val, export=export, resume=args.resume, run_info=meta, accelerator=acc)
    if acc.is_main_process:
        print(f"wrote {args.out / 'model'}")
    return 0
