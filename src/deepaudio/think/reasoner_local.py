"""A local transformers causal language model as the reasoner (weights from a folder, never downloaded).

Most local models cannot see or hear, so this backend is text-only: the measurements (speech segments,
mouth-motion correlation, levels) are written out as text and the model reasons over them with the same
questions and answer format as the chat endpoint. A chat template is used when the tokenizer has one.
"""

from __future__ import annotations

from pathlib import Path

import torch

from deepaudio.errors import BackendUnavailable, CheckpointError
from deepaudio.think.evidence import Evidence, describe
from deepaudio.think.prompts import SYSTEM, detect_prompt, plan_prompt
from deepaudio.think.reasoners import Answer, Media, Reasoner, parse_answer


class LocalReasoner(Reasoner):
    name = "local"

    def __init__(self, path: str | Path, device: str | torch.device = "cpu", max_new_tokens: int = 256):
        path = Path(path).expanduser()
        if not (path / "config.json").is_file():
            raise CheckpointError("no transformers model here (config.json missing)", path,
                                  "give a folder saved with save_pretrained")
        if not any(path.glob("*.safetensors")):
            pickled = sorted(p.name for p in path.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".ckpt"))
            raise CheckpointError(f"refusing to load pickled weights ({', '.join(pickled[:3]) or 'no weights'}): "
                                  "only safetensors are read", path,
                                  "re-save the model with save_pretrained(safe_serialization=True)")
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise BackendUnavailable("transformers is not installed", hint="pip install transformers") from exc
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self.model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True,
                                                              use_safetensors=True).to(device).eval()
        except Exception as exc:  # noqa: BLE001 - transformers raises many kinds with multi-line texts
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
            raise CheckpointError(f"cannot load the language model ({first})", path) from exc
        self.device = torch.device(device)
        self.max_new_tokens = max_new_tokens
        self.path = path

    def _prompt(self, text: str) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]
            return self.tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        return f"{SYSTEM}\n\n{text}\n\n"

    @torch.no_grad()
    def ask(self, text: str) -> str:
        enc = self.tokenizer(self._prompt(text), return_tensors="pt").to(self.device)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        out = self.model.generate(**enc, max_new_tokens=self.max_new_tokens, do_sample=False, pad_token_id=pad)
        return self.tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)

    def plan(self, media: Media) -> Answer:
        text = self.ask(plan_prompt())
        return Answer(summary="Plan asked of the local model.", conclusion=text.strip(), raw=text)

    def judge(self, evidence: Evidence, media: Media) -> Answer:
        return parse_answer(self.ask(detect_prompt(describe(evidence))), evidence)
