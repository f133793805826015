"""Training: one shared loop (:mod:`.loop`) and one small module per stage (``deepaudio train STAGE``).

Building blocks: :mod:`.loop` (``train(model, batches, TrainConfig, out_dir)`` with ``loss = model(batch)``,
Accelerate, AdamW warm-up/decay, grad clipping and accumulation, bf16 autocast, validation with fixed
seeds), :mod:`.ema`, :mod:`.optim` (schedule, pickle-free optimizer state), :mod:`.state` (atomic
checkpoints, RNG states, exact resume), :mod:`.batching` (frame-budget batches, deterministic per
seed and epoch), :mod:`.report` (``train_log.jsonl``, ``training_summary.json``, ``loss_curve.png``).

A stage module defines ``add_arguments(parser)`` and ``main(args) -> int`` (optionally ``STAGE`` and
``HELP``); ``deepaudio train`` finds it by itself. Stage 2 is :mod:`.tts` with its objective in
:mod:`deepaudio.models.tts.objective`. Run layout (``--out``)::

    checkpoints/step_00000500/   model, ema, optimizer (.safetensors) + state.json; the last N kept
    model/                       the exported EMA model (a deepaudio checkpoint folder)
    train_log.jsonl  training_summary.json  loss_curve.png  (mel_cache/ and vocab.txt for the TTS)

Several processes: ``torchrun --nproc_per_node 2 -m deepaudio.cli.main train tts ...`` (gloo on CPU,
NCCL on GPUs); ``--resume`` continues bit for bit after a crash or kill. Multi-node recipes for every
stage: ``docs/scaling.md``.
"""
