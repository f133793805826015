"""Split long text into chunks at sentence boundaries (F5-TTS ``chunk_text`` behaviour).

F5-TTS generates at most ~22 s (reference + new speech) per pass; longer text is cut after sentence
or clause punctuation (latin ``. , ; : ! ?`` followed by a space, or the CJK full-width marks) and the
pieces are packed greedily up to a UTF-8 byte budget. A single sentence longer than the budget stays
whole rather than being cut mid-word.
"""

from __future__ import annotations

import re

_BOUNDARY = re.compile(r"(?<=[;:,.!?])\s+|(?<=[；：，。！？])")


def split_sentences(text: str, max_bytes: int = 135) -> list[str]:
    """Chunks of ``text`` each at most ``max_bytes`` UTF-8 bytes when the sentences allow it."""
    pieces = [p.strip() for p in _BOUNDARY.split(text) if p and p.strip()]
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        candidate = f"{current} {piece}" if current and _needs_space(piece) else current + piece
        if current and len(candidate.encode("utf-8")) > max_bytes:
            chunks.append(current)
            current = piece
        else:
            current = candidate
    if current:
        chunks.append(current)
    return chunks


def _needs_space(piece: str) -> bool:
    # Latin text is rejoined with a space; CJK text has none between sentences.
    return len(piece.encode("utf-8")) == len(piece)


def chunk_budget(ref_text: str, ref_seconds: float, speed: float = 1.0, max_seconds: float = 22.0) -> int:
    """Byte budget per chunk so that reference + chunk fit in ``max_seconds`` at the reference's rate
    of bytes per second (the reference implementation's rule)."""
    if ref_seconds <= 0:
        return 135
    rate = len(ref_text.encode("utf-8")) / ref_seconds
    return max(1, int(rate * max(max_seconds - ref_seconds, 1.0) * speed))
