"""Text normalisation shared by WER scoring (and anything else that compares transcripts).

The papers' WER scripts strip punctuation and lower-case. Like the F5-TTS
evaluation script we keep apostrophes inside words ("don't" stays one word) and remove every other
punctuation mark; dashes and slashes become spaces so that "well-known" and "well known" score alike
whichever form the recogniser chose. Unicode quotes are folded to ASCII first. Whole numbers are read
out as words ("10" -> "ten", "1,500" -> "one thousand five hundred", the TTS front end's reading), so a
recogniser that writes digits is not charged for the spoken form.
"""

from __future__ import annotations

import re
import unicodedata

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
_SPACERS = re.compile(r"[\-\u2010-\u2015/_]+")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")


def normalize_text(text: str) -> str:
    """Lower-case, drop punctuation (keeping in-word apostrophes) and collapse whitespace."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).lower()
    text = _SPACERS.sub(" ", _THOUSANDS.sub("", text))
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch == "'" or not (cat.startswith("P") or cat.startswith("S")):
            out.append(ch)
        else:
            out.append(" ")
    words = []
    for word in "".join(out).split():
        word = word.strip("'")
        if word.isdigit() and word.isascii():
            from deepaudio.text.phonemes import number_words

            words.extend(number_words(int(word)).split())
        elif word:
            words.append(word)
    return " ".join(words)


def words(text: str) -> list[str]:
    """Normalised word list of ``text``."""
    return normalize_text(text).split()
