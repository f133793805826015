"""Light text normalisation before tokenising, as the F5-TTS front end does.

Only what the released vocab needs: curly quotes become straight ones and ';' becomes ',' (the
reference's ``convert_char_to_pinyin`` table), runs of whitespace collapse to one space. Casing and
punctuation are kept: the model was trained on cased, punctuated text.
"""

from __future__ import annotations

import re
import unicodedata

_TABLE = str.maketrans({";": ",", "“": '"', "”": '"', "‘": "'", "’": "'"})
_SPACES = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    return _SPACES.sub(" ", text.translate(_TABLE)).strip()


def strip_accents(char: str) -> str:
    """'é' -> 'e': the base letter of a decomposable character ('' when nothing ASCII-like remains)."""
    return "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))


def is_cjk(char: str) -> bool:
    """CJK ideographs and bopomofo, the range the reference converts to pinyin (U+3100..U+9FFF)."""
    return "\u3100" <= char <= "\u9fff"
