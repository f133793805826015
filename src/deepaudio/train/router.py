"""Stage 3: train the MoF gate on instructions (``deepaudio train router``).

The corpus is generated (:mod:`deepaudio.data.instructions`: many phrasings per task, typos, mixed
case, quoted transcripts) plus the user's JSONL; test phrasings come from held-out templates. The
sentence encoder is frozen, so every instruction is embedded once and only the MLP trains, through
the shared loop (AdamW, warm-up and decay, EMA, checkpoints). Held-out accuracy and the confusion
matrix are written to ``router_eval.json`` and printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from deepaudio.data.instructions import Instruction, generate, read_instructions
from deepaudio.distributed import Ranks
from deepaudio.models.gate import TASKS, GateConfig, MoFGate
from deepaudio.models.router import Router
from deepaudio.train.batching import FixedBatches, FrameBudgetBatcher
from deepaudio.train.ema import EMAConfig
from deepaudio.train.loop import TrainConfig, train

HELP = "train the MoF instruction gate (stage 3) on a generated corpus + your instructions"
class _GateLoss(nn.Module):
    def __init__(self, gate: MoFGate):
        super().__init__()
        self.gate = gate

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.gate.loss(batch["emb"], batch["label"])


class _EmbeddingBatches:
    def __init__(self, emb: torch.Tensor, labels: torch.Tensor, batcher):
        self.emb, self.labels, self.batcher = emb, labels, batcher

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        return self.batcher.epoch_batches(epoch)

    def load(self, key: list[int]) -> dict[str, torch.Tensor]:
        idx = torch.tensor(key)
        return {"emb": self.emb[idx], "label": self.labels[idx]}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="output folder (checkpoints, logs, model/)")
    parser.add_argument("--data", type=Path, action="append", default=[],
                        help="extra instructions: JSONL lines {\"instruction\", \"task\"} or CSV (repeatable)")
    parser.add_argument("--test-data", type=Path, action="append", default=[],
                        help="extra held-out instructions to report accuracy on (JSONL or CSV)")
    parser.add_argument("--n-train", type=int, default=6000, help="generated training instructions")
    parser.add_argument("--n-test", type=int, default=2000, help="generated held-out-template instructions")
    parser.add_argument("--text-encoder", choices=("minilm", "flan-t5"), default="minilm")
    parser.add_argument("--text-encoder-path", help="local encoder folder (default: packaged MiniLM)")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--lexical-dim", type=int, default=0,
                        help="hashed n-gram features beside the sentence embedding (0: embedding only, as the paper)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-every", type=int, help="checkpoint every N updates (default max(100, steps/3))")
    parser.add_argument("--resume", action="store_true")


def _encode(router, items: list[Instruction]) -> tuple[torch.Tensor, torch.Tensor]:
    emb = router.features([it.text for it in items])
    labels = torch.tensor([TASKS.index(it.task) for it in items])
    return emb, labels


def main(args: argparse.Namespace) -> int:
    from deepaudio.models.encoders.text import SentenceEncoder, TextEncoderSpec

    train_items = generate(args.n_train, "train", seed=args.seed)
    for path in args.data:
        train_items += read_instructions(path)
    test_items = generate(args.n_test, "test", seed=args.seed)
    extra_test = {str(path): read_instructions(path) for path in args.test_data}
    encoder = SentenceEncoder(TextEncoderSpec(args.text_encoder, args.text_encoder_path))
    gate_cfg = GateConfig(encoder=args.text_encoder, encoder_dim=encoder.dim, lexical_dim=args.lexical_dim,
                          hidden_dim=args.hidden)
    torch.manual_seed(args.seed)
    gate = MoFGate(gate_cfg)
    featurizer = Router(gate, encoder)
    print(f"embedding {len(train_items)} training and {len(test_items)} held-out instructions "
          f"with {args.text_encoder}", file=sys.stderr)
    x_tr, y_tr = _encode(featurizer, train_items)
    x_te, y_te = _encode(featurizer, test_items)
    model = _GateLoss(gate)
    batcher = FrameBudgetBatcher.build([1] * len(train_items), args.batch, args.batch, seed=args.seed)
    data = _EmbeddingBatches(x_tr, y_tr, batcher)
    val = _EmbeddingBatches(x_te, y_te, FixedBatches(tuple(tuple(range(i, min(i + 256, len(test_items))))
                                                           for i in range(0, len(test_items), 256))))
    cfg = TrainConfig(steps=args.steps, lr=args.lr, warmup=args.warmup, final_lr_ratio=0.01, weight_decay=0.01,
                      ema=replace(EMAConfig(), beta=0.999, update_after=50, update_every=1), seed=args.seed,
                      save_every=args.save_every or max(100, args.steps // 3), log_every=100,
                      val_every=max(50, args.steps // 10),
                      device="cpu" if not torch.cuda.is_available() else "auto")
    meta = {"stage": "router", "command": " ".join(sys.argv), "n_train": len(train_items),
            "n_test": len(test_items), "encoder_path": args.text_encoder_path}

    def export(module: nn.Module, folder: Path) -> None:
        module.gate.save_pretrained(folder, meta={**meta, "steps": args.steps})

    result = train(model, data, cfg, args.out, val=val, export=export, resume=args.resume, run_info=meta)
    if Ranks.from_env().rank != 0:  # under torchrun the main process alone reports
        return 0
    gate = MoFGate.from_pretrained(args.out / "model")
    report = evaluate_gate(gate, x_te, y_te)
    report["train_accuracy"] = evaluate_gate(gate, x_tr, y_tr)["accuracy"]
    report["extra_tests"] = {}
    for path, items in extra_test.items():  # each file reported on its own
        report["extra_tests"][path] = evaluate_gate(gate, *_encode(featurizer, items))
    report["steps"] = result.step
    (args.out / "router_eval.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"held-out accuracy {report['accuracy']:.4f} ({report['n']} instructions, unseen templates); "
          f"train accuracy {report['train_accuracy']:.4f}")
    for path, ev in report["extra_tests"].items():
        tasks = ", ".join(f"{t} {v['accuracy']:.3f} ({v['n']})" for t, v in ev["per_task"].items())
        print(f"accuracy on {path}: {ev['accuracy']:.4f} ({ev['n']} instructions; per task {tasks})")
    return 0


@torch.no_grad()
def evaluate_gate(gate: MoFGate, emb: torch.Tensor, labels: torch.Tensor) -> dict:
    pred = gate.eval()(emb).argmax(-1)
    k = len(gate.config.tasks)
    confusion = torch.zeros(k, k, dtype=torch.long)
    for t, p in zip(labels.tolist(), pred.tolist()):
        confusion[t, p] += 1
    per_task = {t: {"accuracy": float(confusion[i, i] / confusion[i].sum()), "n": int(confusion[i].sum())}
                for i, t in enumerate(gate.config.tasks) if confusion[i].sum() > 0}
    return {"accuracy": float((pred == labels).float().mean()), "n": int(labels.numel()),
            "tasks": list(gate.config.tasks), "per_task": per_task, "confusion": confusion.tolist()}
