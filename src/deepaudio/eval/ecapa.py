"""SIM-O backend: ECAPA-TDNN over a weighted sum of WavLM-large hidden states (UniSpeech SV model).

Shape key: B clips, N samples at 16 kHz, L hidden-state layers (25 for WavLM-large), T frames,
D WavLM width (1024), C ECAPA channels (512), E embedding size (256).

F5-TTS and the DeepAudio papers report SIM-O with the UniSpeech speaker-verification checkpoint
``wavlm_large_finetune.pth``: the waveform is normalised to zero mean / unit variance (WavLM-large's
``normalize``), every hidden state of WavLM is taken (the input of each transformer layer plus the
final layer-normed output), mixed with softmax(``feature_weight``), instance-normalised over time and
fed to an ECAPA-TDNN (Desplanques et al. 2020): Conv1d(k=5) + ReLU + BN, three SE-Res2 blocks
(k=3, dilation 2/3/4, scale 8, SE bottleneck 128), a 1x1 conv over their concatenation (1536),
attentive statistics pooling, BN and a linear layer to the embedding. SIM-O is the cosine of the
embeddings of the generated clip and the prompt.

WavLM runs as ``transformers.WavLMModel``; the checkpoint's fairseq-style names are renamed here. The
network sizes are read from the weight shapes (conv strides are WavLM's fixed 5,2,2,2,2,2,2).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from deepaudio.errors import CheckpointError

WAVLM_PREFIX = "feature_extract.model."
_RENAMES = [
    (r"^feature_extractor\.conv_layers\.(\d+)\.0\.", r"feature_extractor.conv_layers.\1.conv."),
    (r"^feature_extractor\.conv_layers\.(\d+)\.2\.1\.", r"feature_extractor.conv_layers.\1.layer_norm."),
    (r"^feature_extractor\.conv_layers\.0\.2\.", r"feature_extractor.conv_layers.0.layer_norm."),
    (r"^layer_norm\.", "feature_projection.layer_norm."),
    (r"^post_extract_proj\.", "feature_projection.projection."),
    (r"^mask_emb$", "masked_spec_embed"),
    (r"^encoder\.pos_conv\.0\.weight_g$", "encoder.pos_conv_embed.conv.parametrizations.weight.original0"),
    (r"^encoder\.pos_conv\.0\.weight_v$", "encoder.pos_conv_embed.conv.parametrizations.weight.original1"),
    (r"^encoder\.pos_conv\.0\.bias$", "encoder.pos_conv_embed.conv.bias"),
    (r"\.self_attn\.relative_attention_bias\.", ".attention.rel_attn_embed."),
    (r"\.self_attn\.grep_linear\.", ".attention.gru_rel_pos_linear."),
    (r"\.self_attn\.grep_a$", ".attention.gru_rel_pos_const"),
    (r"\.self_attn\.", ".attention."),
    (r"\.self_attn_layer_norm\.", ".layer_norm."),
    (r"\.fc1\.", ".feed_forward.intermediate_dense."),
    (r"\.fc2\.", ".feed_forward.output_dense."),
]


def rename_wavlm(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """UniSpeech/fairseq WavLM names -> ``transformers.WavLMModel`` names (unused heads dropped)."""
    out = {}
    for k, v in state.items():
        if k.startswith(("final_proj", "label_embs_concat", "quantizer", "project_q")):
            continue
        for pat, rep in _RENAMES:
            k = re.sub(pat, rep, k)
        out[k] = v
    return out


def wavlm_config(state: dict[str, torch.Tensor]):
    """A ``WavLMConfig`` matching the (renamed) weights."""
    import transformers as tf

    n_conv = len([k for k in state if re.fullmatch(r"feature_extractor\.conv_layers\.\d+\.conv\.weight", k)])
    conv_w = [state[f"feature_extractor.conv_layers.{i}.conv.weight"] for i in range(n_conv)]
    layer_norm = "feature_extractor.conv_layers.1.layer_norm.weight" in state
    n_layers = len([k for k in state if re.fullmatch(r"encoder\.layers\.\d+\.final_layer_norm\.weight", k)])
    hidden = state["feature_projection.projection.weight"].shape[0]
    pos_v = state["encoder.pos_conv_embed.conv.parametrizations.weight.original1"]
    return tf.WavLMConfig(
        hidden_size=hidden, num_hidden_layers=n_layers,
        num_attention_heads=state["encoder.layers.0.attention.gru_rel_pos_const"].shape[1],
        intermediate_size=state["encoder.layers.0.feed_forward.intermediate_dense.weight"].shape[0],
        conv_dim=tuple(w.shape[0] for w in conv_w), conv_kernel=tuple(w.shape[2] for w in conv_w),
        conv_stride=(5, 2, 2, 2, 2, 2, 2)[:n_conv], conv_bias="feature_extractor.conv_layers.0.conv.bias" in state,
        feat_extract_norm="layer" if layer_norm else "group", do_stable_layer_norm=layer_norm,
        num_conv_pos_embeddings=pos_v.shape[2], num_conv_pos_embedding_groups=hidden // pos_v.shape[1],
        num_buckets=state["encoder.layers.0.attention.rel_attn_embed.weight"].shape[0], max_bucket_distance=800,
        mask_time_prob=0.0, mask_feature_prob=0.0,
    )


class _ConvReluBn(nn.Module):
    def __init__(self, cin: int, cout: int, k: int = 1, pad: int = 0):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, k, padding=pad)
        self.bn = nn.BatchNorm1d(cout)

    def forward(self, x):
        return self.bn(F.relu(self.conv(x)))


class _Res2(nn.Module):
    """Res2Net split: each of scale-1 channel groups is convolved after adding the previous group's output."""

    def __init__(self, ch: int, dilation: int, scale: int = 8):
        super().__init__()
        self.width = ch // scale
        self.convs = nn.ModuleList(nn.Conv1d(self.width, self.width, 3, padding=dilation, dilation=dilation)
                                   for _ in range(scale - 1))
        self.bns = nn.ModuleList(nn.BatchNorm1d(self.width) for _ in range(scale - 1))

    def forward(self, x):
        parts = torch.split(x, self.width, dim=1)
        out, sp = [], None
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            sp = parts[i] if i == 0 else sp + parts[i]
            sp = bn(F.relu(conv(sp)))
            out.append(sp)
        return torch.cat([*out, parts[-1]], dim=1)


class _SE(nn.Module):
    def __init__(self, ch: int, bottleneck: int = 128):
        super().__init__()
        self.linear1 = nn.Linear(ch, bottleneck)
        self.linear2 = nn.Linear(bottleneck, ch)

    def forward(self, x):
        gate = torch.sigmoid(self.linear2(F.relu(self.linear1(x.mean(dim=2)))))
        return x * gate.unsqueeze(2)


class _SERes2Block(nn.Module):
    def __init__(self, ch: int, dilation: int):
        super().__init__()
        self.Conv1dReluBn1 = _ConvReluBn(ch, ch)
        self.Res2Conv1dReluBn = _Res2(ch, dilation)
        self.Conv1dReluBn2 = _ConvReluBn(ch, ch)
        self.SE_Connect = _SE(ch)

    def forward(self, x):
        return x + self.SE_Connect(self.Conv1dReluBn2(self.Res2Conv1dReluBn(self.Conv1dReluBn1(x))))


class _AttentiveStatsPool(nn.Module):
    def __init__(self, ch: int, att: int = 128):
        super().__init__()
        self.linear1 = nn.Conv1d(ch, att, 1)
        self.linear2 = nn.Conv1d(att, ch, 1)

    def forward(self, x):  # (B, C, T) -> (B, 2C)
        alpha = torch.softmax(self.linear2(torch.tanh(self.linear1(x))), dim=2)
        mean = (alpha * x).sum(dim=2)
        std = ((alpha * x * x).sum(dim=2) - mean**2).clamp(min=1e-9).sqrt()
        return torch.cat([mean, std], dim=1)


class EcapaWavLM(nn.Module):
    """``forward(wav (B, N) at 16 kHz) -> (B, E)`` speaker embeddings."""

    def __init__(self, wavlm: nn.Module, n_states: int, feat_dim: int, channels: int = 512, emb_dim: int = 256):
        super().__init__()
        self.wavlm = wavlm
        self.feature_weight = nn.Parameter(torch.zeros(n_states))
        self.instance_norm = nn.InstanceNorm1d(feat_dim)
        self.layer1 = _ConvReluBn(feat_dim, channels, 5, 2)
        self.layer2, self.layer3, self.layer4 = (_SERes2Block(channels, d) for d in (2, 3, 4))
        self.conv = nn.Conv1d(channels * 3, 1536, 1)
        self.pooling = _AttentiveStatsPool(1536)
        self.bn = nn.BatchNorm1d(3072)
        self.linear = nn.Linear(3072, emb_dim)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        wav = F.layer_norm(wav, wav.shape[-1:])  # WavLM-large normalises each waveform
        states = torch.stack(self.wavlm(wav, output_hidden_states=True).hidden_states)  # (L, B, T, D)
        w = torch.softmax(self.feature_weight, dim=0)[:, None, None, None]
        x = self.instance_norm((w * states).sum(0).transpose(1, 2) + 1e-6)  # (B, D, T)
        o1 = self.layer1(x)
        o2 = self.layer2(o1)
        o3 = self.layer3(o2)
        o4 = self.layer4(o3)
        x = F.relu(self.conv(torch.cat([o2, o3, o4], dim=1)))
        return self.linear(self.bn(self.pooling(x)))


def load_ecapa_wavlm(path: str | Path, device: str | torch.device = "cpu") -> EcapaWavLM:
    """Build the SIM-O model from ``wavlm_large_finetune.pth`` (its ``model`` dict), strictly."""
    import transformers as tf

    from deepaudio.checkpoint import load_weights_file

    state = load_weights_file(path)
    state = state.get("model", state) if isinstance(state.get("model"), dict) else state
    wl = rename_wavlm({k[len(WAVLM_PREFIX):]: v for k, v in state.items() if k.startswith(WAVLM_PREFIX)})
    head = {k: v for k, v in state.items() if not k.startswith("feature_extract.")}
    if not wl or "feature_weight" not in head or "layer1.conv.weight" not in head:
        raise CheckpointError("not a UniSpeech ECAPA-TDNN + WavLM checkpoint", path,
                              "give wavlm_large_finetune.pth from the UniSpeech speaker-verification release")
    try:
        wavlm = tf.WavLMModel(wavlm_config(wl))
        wl.pop("masked_spec_embed", None)  # training-time masking only
        wavlm.load_state_dict(wl, strict=True)
        model = EcapaWavLM(wavlm, head["feature_weight"].shape[0], head["layer1.conv.weight"].shape[1],
                           head["layer1.conv.weight"].shape[0], head["linear.weight"].shape[0])
        model.load_state_dict({**head, **{f"wavlm.{k}": v for k, v in wl.items()}}, strict=True)
    except (KeyError, RuntimeError) as exc:
        raise CheckpointError(f"weights do not match the ECAPA-TDNN + WavLM layout ({str(exc)[:200]})", path) from exc
    return model.to(device).eval()
