"""F5-TTS vocabulary files and tokenizers.

A vocab file holds one token per line and the line index is the id (the released F5 vocab starts with
the space character, id 0; inside the network ids are shifted by +1 so 0 can be the filler). Tokens are
single characters, plus pinyin syllables with tone digits ("ni3") for Chinese in the released vocab:
the reference's ``pinyin`` tokenizer turns each CJK character into ``" "`` + its TONE3 pinyin. That
needs the optional ``pypinyin`` package; without it CJK characters are out of vocabulary.

Characters the vocabulary lacks are never dropped silently: an accented letter falls back to its base
letter when that is in the vocabulary, anything else is left out, and both are reported in one warning
(or an :class:`InputError` with ``strict=True``).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch

from deepaudio.errors import CheckpointError, InputError
from deepaudio.text.normalize import expand_english, is_cjk, normalize_text, strip_accents

_PINYIN_TOKEN = re.compile(r"^[a-zü]+[1-5]$")


class Vocab:
    def __init__(self, tokens: Sequence[str]):
        self.tokens = list(tokens)
        self.index: dict[str, int] = {}
        for i, tok in enumerate(self.tokens):
            self.index.setdefault(tok, i)  # first occurrence wins

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        path = Path(path).expanduser()
        if not path.is_file():
            raise CheckpointError("vocab file not found", path, "give the vocab.txt the model was trained with")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise CheckpointError("vocab file is not UTF-8 text", path) from exc
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # final newline; a line holding one space is the space token
        if not lines:
            raise CheckpointError("vocab file is empty", path)
        return cls([ln.rstrip("\r") for ln in lines])

    def to_text(self) -> str:
        return "".join(f"{tok}\n" for tok in self.tokens)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.index

    @property
    def has_pinyin(self) -> bool:
        return any(_PINYIN_TOKEN.match(t) for t in self.tokens)


class Tokenizer:
    """Text -> token strings -> ids. ``mode``: 'char', 'pinyin', 'phoneme' (English ARPAbet,
    ``deepaudio.text.phonemes``) or 'auto' (phoneme if the vocab holds ARPAbet, pinyin if it has syllables).
    ``english``: numbers, symbols, abbreviations and acronyms are read out (``expand_english``) in every
    mode, except in text holding CJK characters (the expansion is English)."""

    def __init__(self, vocab: Vocab, mode: str = "auto", strict: bool = False, english: bool = True):
        if mode not in ("auto", "char", "pinyin", "phoneme"):
            raise InputError(f"unknown tokenizer mode {mode!r}", hint="use auto, char, pinyin or phoneme")
        self.vocab = vocab
        if mode == "auto":
            from deepaudio.text.phonemes import is_phoneme_vocab

            mode = "phoneme" if is_phoneme_vocab(vocab.tokens) else ("pinyin" if vocab.has_pinyin else "char")
        self.mode = mode
        self.strict = strict
        self.english = english

    def normalize(self, text: str) -> str:
        """The text as the model will read it (before tokens): what chunking and duration estimates
        should measure. Idempotent."""
        text = normalize_text(text)
        if self.english and not any(is_cjk(c) for c in text):
            text = expand_english(text)
        return text

    def tokens(self, text: str) -> list[str]:
        """Token strings before the vocabulary lookup."""
        text = self.normalize(text)
        if self.mode == "phoneme":
            from deepaudio.text.phonemes import phonemize

            return phonemize(text)
        if self.mode != "pinyin" or not any(is_cjk(c) for c in text):
            return list(text)
        return _pinyin_tokens(text)

    def encode(self, text: str) -> list[int]:
        ids, unknown, replaced = [], [], []
        for tok in self.tokens(text):
            if tok in self.vocab.index:
                ids.append(self.vocab.index[tok])
                continue
            base = strip_accents(tok) if len(tok) == 1 and self.mode != "phoneme" else ""
            if base and all(c in self.vocab.index for c in base):
                ids.extend(self.vocab.index[c] for c in base)
                replaced.append(f"{tok}->{base}")
            else:
                unknown.append(tok)
        if unknown or replaced:
            self._report(text, sorted(set(unknown)), sorted(set(replaced)))
        return ids

    def speakable(self, text: str) -> int:
        """How many tokens of ``text`` carry sound for this model (in the vocabulary, not space/punctuation)."""
        n = 0
        for tok in self.tokens(text):
            if not any(c.isalnum() for c in tok):
                continue
            base = strip_accents(tok) if len(tok) == 1 and self.mode != "phoneme" else ""
            if tok in self.vocab.index or (base and all(c in self.vocab.index for c in base)):
                n += 1
        return n

    def check_speakable(self, text: str, what: str = "text") -> None:
        """Refuse text of which this model can speak nothing (another script, emoji, punctuation only)
        before anything is generated."""
        if self.speakable(text):
            return
        shown = "".join(dict.fromkeys(c for c in text if not c.isspace()))[:12]
        cjk = any(is_cjk(c) for c in text)
        hint = ("this model speaks English; install the zh extra (pypinyin) and use a Chinese checkpoint"
                if cjk and self.mode != "pinyin" else
                f"write it in the model's language ({self.mode} tokens), spelling out numbers and symbols")
        raise InputError(f"{what} {shown!r} has nothing this model can speak (no letters of its vocabulary)",
                         hint=hint)

    def batch(self, texts: Sequence[str], device: torch.device | str = "cpu") -> torch.Tensor:
        """(B, Nt) int64 ids, right-padded with -1 (the reference's ``list_str_to_idx`` layout)."""
        seqs = [self.encode(t) for t in texts]
        width = max((len(s) for s in seqs), default=0)
        out = torch.full((len(seqs), max(width, 1)), -1, dtype=torch.long)
        for i, s in enumerate(seqs):
            out[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        return out.to(device)

    def _report(self, text: str, unknown: list[str], replaced: list[str]) -> None:
        parts = []
        if unknown:
            hint = " (install pypinyin for Chinese)" if any(is_cjk(c[0]) for c in unknown) else ""
            parts.append(f"left out {len(unknown)} character(s) not in the vocabulary: "
                         f"{' '.join(repr(u) for u in unknown)}{hint}")
        if replaced:
            parts.append(f"replaced accented characters: {', '.join(replaced)}")
        msg = f"text {text[:40]!r}{'...' if len(text) > 40 else ''}: " + "; ".join(parts)
        if self.strict and unknown:
            raise InputError(msg, hint="remove or spell out those characters, or use strict=False")
        warnings.warn(msg, stacklevel=3)


def _pinyin_tokens(text: str) -> list[str]:
    """The reference pinyin layout: every CJK character becomes ' ' + TONE3 syllable; other characters
    stay single characters, with a space inserted where a latin word follows CJK text. Without jieba
    the syllables come from pypinyin's phrase-aware conversion of each CJK run."""
    try:
        from pypinyin import Style, lazy_pinyin
    except ImportError:
        return list(text)
    out: list[str] = []
    i = 0
    while i < len(text):
        if is_cjk(text[i]):
            j = i
            while j < len(text) and is_cjk(text[j]):
                j += 1
            for syl in lazy_pinyin(text[i:j], style=Style.TONE3, tone_sandhi=True):
                out.extend((" ", syl))
            i = j
        else:
            if out and out[-1] not in " :'\"" and text[i].isascii() and text[i].isalnum() and _after_cjk(text, i):
                out.append(" ")
            out.append(text[i])
            i += 1
    return out


def _after_cjk(text: str, i: int) -> bool:
    return i > 0 and is_cjk(text[i - 1])
