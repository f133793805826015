"""Shared building blocks: attention, RoPE, adaLN-Zero, ConvNeXt-V2, time/position embeddings, norms."""
