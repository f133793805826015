"""English text expansion before phonemisation: numbers, money, times, symbols, abbreviations, acronyms."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deepaudio.text import Tokenizer, Vocab
from deepaudio.text.normalize import expand_english
from deepaudio.text.numbers import decimal_words, money_words, number_words, ordinal_words, time_words, year_words
from deepaudio.text.phonemes import ARPABET, phonemize

CASES = [
    ("1,234 people", "one thousand two hundred thirty four people"),
    ("It costs $5.50.", "It costs five dollars fifty cents."),
    ("I paid £3 and €2.50.", "I paid three pounds and two euros fifty cents."),
    ("$1 and $0.99", "one dollar and ninety nine cents"),
    ("a $1.5 million deal", "a one point five million dollars deal"),
    ("a $20k budget", "a twenty thousand dollars budget"),
    ("On the 1st and 22nd of May 1999.", "On the first and twenty second of May nineteen ninety nine."),
    ("In 2024, 2005, 1905 and 1900.",
     "In twenty twenty four, two thousand five, nineteen oh five and nineteen hundred."),
    ("The 1990s and the '80s.", "The nineteen nineties and the eighties."),
    ("Meet at 3:30 pm. Then go.", "Meet at three thirty P M. Then go."),
    ("at 10 a.m. tomorrow", "at ten A M tomorrow"),
    ("It was 5:05 and 12:00.", "It was five oh five and twelve o'clock."),
    ("50% of 3.5% is small", "fifty percent of three point five percent is small"),
    ("It is 20°C or 68 °F.", "It is twenty degrees Celsius or sixty eight degrees Fahrenheit."),
    ("Tom & Jerry + friends @ home", "Tom and Jerry plus friends at home"),
    ("Dr. Smith lives on Elm St. He met Mr. Brown at St. Paul.",
     "Doctor Smith lives on Elm Street. He met Mister Brown at Saint Paul."),
    ("She lives at 221 Baker St.", "She lives at two hundred twenty one Baker Street."),
    ("Apples, pears, etc. and more", "Apples, pears, et cetera and more"),
    ("The NASA probe and the US team.", "The NASA probe and the U S team."),
    ("The XKCD page", "The X K C D page"),
    ("She moved to the U.S. in May.", "She moved to the U S in May."),
    ("The U.S. Army", "The U S Army"),
    ("Pages 10-20 of 1/2 the book, 3/4 done.", "Pages ten to twenty of one half the book, three quarters done."),
    ("5 kg at 100 km/h for 1 km", "five kilograms at one hundred kilometers per hour for one kilometer"),
    ("It fell to -5 degrees", "It fell to minus five degrees"),
    ("Agent 007 scored 0", "Agent zero zero seven scored zero"),
    ("Pi is 3.14", "Pi is three point one four"),
    ("#1 hit, No. 5", "number one hit, number five"),
    ("mail john.doe@example.com", "mail john dot doe at example dot com"),
]


@pytest.mark.parametrize("written,said", CASES)
def test_expansion_cases(written, said):
    assert expand_english(written) == said


def test_number_readings():
    assert number_words(1234) == "one thousand two hundred thirty four"
    assert number_words(10**12 + 5) == "one trillion five"
    assert number_words(-3) == "minus three"
    assert [ordinal_words(n) for n in (1, 2, 3, 5, 12, 20, 21, 100, 101)] == [
        "first", "second", "third", "fifth", "twelfth", "twentieth", "twenty first", "one hundredth",
        "one hundred first"]
    assert year_words(2010) == "twenty ten" and year_words(3000) == "three thousand"
    assert decimal_words(".5") == "point five"
    assert decimal_words("1,250.05") == "one thousand two hundred fifty point zero five"
    assert time_words(7, 0) == "seven o'clock"
    assert money_words("¥", "100") == "one hundred yen"
    assert money_words("$", "3.125") == "three point one two five dollars"


_TOKENS = st.sampled_from([w for w, _ in CASES] + ["hello", "A", "ABC", ",", ".", " ", "12", "3.5", "$", "%",
                                                     "°", "&", "-", "/", ":", "1st", "Dr.", "x"])


@given(st.lists(_TOKENS, max_size=8).map(" ".join))
def test_expansion_leaves_no_digits_or_symbols_and_is_idempotent(text):
    out = expand_english(text)
    assert not re.search(r"[0-9$£€¥&+@=%°×]", out)
    assert expand_english(out) == out


@given(st.integers(0, 10**15 - 1))
def test_every_integer_is_words_and_round_numbers_match(n):
    words = number_words(n).split()
    assert words and all(w.isalpha() for w in words)
    assert expand_english(f"{n:,}") == number_words(n)  # with thousands separators it is always a cardinal


def test_phonemes_of_expanded_text_are_all_in_the_bundled_vocab():
    text = "Dr. Lee paid $12.75 at 3:30 p.m. on March 3rd, 2021 & got 15% off the USB-C cable (2 m)."
    tokens = phonemize(expand_english(text))
    assert set(tokens) <= set(ARPABET) | {" ", ",", ".", "?", "!"}
    assert phonemize("A M") == ["EY", " ", "EH", "M"] and phonemize("A dog")[0] == "AH"


def test_tokenizer_expands_english_but_not_chinese(tmp_path):
    tok = Tokenizer(Vocab(list(" abcdefghijklmnopqrstuvwxyz,.") + ["ni3"]), mode="char")
    assert "".join(tok.tokens("5 cats.")) == "five cats."
    assert tok.normalize(tok.normalize("Dr. Who at 5")) == tok.normalize("Dr. Who at 5") == "Doctor Who at five"
    assert Tokenizer(tok.vocab, mode="char", english=False).normalize("5") == "5"
    assert tok.normalize("你好 5") == "你好 5"


def test_dub_length_check_counts_the_spoken_form():
    from deepaudio.errors import InputError
    from deepaudio.pipelines.deepaudio import check_fits

    check_fits("We met at noon.", 1.0)  # 15 characters in a second: fine
    with pytest.raises(InputError, match="characters/s"):
        check_fits("$1,234,567.", 1.0)  # 11 written, 80 said
