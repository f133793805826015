"""English readings of numbers: cardinals, ordinals, years, decimals, times and money.

Pure functions from digits to words, used by ``text.normalize.expand_english`` before phonemisation
(the TTS cannot say "1,234") and by WER scoring (a recogniser that writes digits is not charged for
the spoken form). Words are joined with spaces, not hyphens ("thirty four"), the form the phoneme
front end and the WER normaliser split words on anyway.
"""

from __future__ import annotations

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_WORDS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                  "nine": "ninth", "twelve": "twelfth"}


def number_words(n: int) -> str:
    """0 <= n < 10**15 as English words ('104' -> 'one hundred four'); larger numbers digit by digit."""
    if n < 0:
        return "minus " + number_words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return _ONES[n // 100] + " hundred" + ("" if rest == 0 else " " + number_words(rest))
    for size, name in _SCALES:
        if size <= n < size * 1000:
            rest = n % size
            return number_words(n // size) + " " + name + ("" if rest == 0 else " " + number_words(rest))
    return digit_words(str(n))


def digit_words(digits: str) -> str:
    """'007' -> 'zero zero seven': digits read one by one (codes, leading zeros, decimals)."""
    return " ".join(_ONES[int(d)] for d in digits if d.isdigit())


def ordinal_words(n: int) -> str:
    """1 -> 'first', 22 -> 'twenty second', 100 -> 'one hundredth'."""
    words = number_words(n).split()
    last = words[-1]
    if last in _ORDINAL_WORDS:
        words[-1] = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def year_words(n: int) -> str:
    """How a year is said: 1999 -> 'nineteen ninety nine', 1905 -> 'nineteen oh five', 1900 -> 'nineteen
    hundred', 2000-2009 -> 'two thousand (and) n', 2024 -> 'twenty twenty four'."""
    if not 1000 <= n <= 9999 or 2000 <= n <= 2009 or n % 1000 == 0:
        return number_words(n)
    hi, lo = divmod(n, 100)
    if lo == 0:
        return number_words(hi) + " hundred"
    return number_words(hi) + (" oh " + _ONES[lo] if lo < 10 else " " + number_words(lo))


def decade_words(n: int) -> str:
    """1990 -> 'nineteen nineties' (the '1990s'), 2000 -> 'two thousands'."""
    words = year_words(n).split()
    last = words[-1]
    words[-1] = last[:-1] + "ies" if last.endswith("y") else last + "s"
    return " ".join(words)


def decimal_words(text: str) -> str:
    """'3.14' -> 'three point one four', '1,250.5' -> 'one thousand two hundred fifty point five', '.5' ->
    'point five'. The integer part is a cardinal, the fraction digit by digit."""
    whole, _, frac = text.replace(",", "").partition(".")
    out = number_words(int(whole)) if whole else ""
    if frac:
        out = (out + " point " + digit_words(frac)).strip()
    return out


def time_words(hours: int, minutes: int) -> str:
    """3:30 -> 'three thirty', 3:05 -> 'three oh five', 3:00 -> "three o'clock" (the caller drops o'clock
    before a.m./p.m.)."""
    if minutes == 0:
        return number_words(hours) + " o'clock"
    if minutes < 10:
        return number_words(hours) + " oh " + _ONES[minutes]
    return number_words(hours) + " " + number_words(minutes)


CURRENCIES = {  # symbol -> (unit, units, subunit, subunits)
    "$": ("dollar", "dollars", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"),
    "€": ("euro", "euros", "cent", "cents"),
    "¥": ("yen", "yen", "sen", "sen"),
    "₹": ("rupee", "rupees", "paisa", "paise"),
}


def money_words(symbol: str, amount: str, scale: str = "") -> str:
    """('$', '5.50') -> 'five dollars fifty cents'; ('$', '1', '') -> 'one dollar'; ('€', '2.5', 'million')
    -> 'two point five million euros'; ('$', '0.99') -> 'ninety nine cents'."""
    unit, units, sub, subs = CURRENCIES[symbol]
    clean = amount.replace(",", "")
    whole, _, frac = clean.partition(".")
    if scale:
        return f"{decimal_words(clean)} {scale} {units}"
    if len(frac) != 2:  # '$1.5' or '$3.125': not a cents amount, read as a decimal
        if frac:
            return f"{decimal_words(clean)} {units}"
        n = int(whole or 0)
        return f"{number_words(n)} {unit if n == 1 else units}"
    n, cents = int(whole or 0), int(frac)
    parts = [f"{number_words(n)} {unit if n == 1 else units}"] if n or not cents else []
    if cents:
        parts.append(f"{number_words(cents)} {sub if cents == 1 else subs}")
    return " ".join(parts)
