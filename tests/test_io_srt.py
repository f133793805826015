"""deepaudio.io.srt: SubRip parsing, its tolerances and the errors that name file and line."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deepaudio.errors import InputError
from deepaudio.io.srt import Cue, format_srt, format_time, parse_srt, write_srt

SAMPLE = """1
00:00:01,000 --> 00:00:02,500
Hello there.

2
00:00:03,000 --> 00:00:05,250
Two lines
of text.

"""


def test_parse_text_with_multiline_cue():
    cues = parse_srt(SAMPLE)
    assert cues == [Cue(1, 1.0, 2.5, "Hello there."), Cue(2, 3.0, 5.25, "Two lines\nof text.")]
    assert cues[1].duration == pytest.approx(2.25)


def test_parse_file_with_bom_and_crlf(tmp_path):
    path = tmp_path / "subs.srt"
    path.write_bytes(b"\xef\xbb\xbf" + SAMPLE.replace("\n", "\r\n").encode("utf-8"))
    assert parse_srt(path) == parse_srt(SAMPLE)
    assert parse_srt(str(path)) == parse_srt(SAMPLE)


def test_tolerances():
    text = "00:00:00.5 --> 00:00:01,2 X1:10 Y1:20\nno counter line\n\n\n\n7\n01:02:03,004 --> 01:02:04,000\nÄ\n"
    cues = parse_srt(text)
    assert cues[0] == Cue(1, 0.5, 1.2, "no counter line")
    assert cues[1] == Cue(7, 3723.004, 3724.0, "Ä")


@pytest.mark.parametrize("text,line,what", [
    ("1\n00:00:01,000 -> 00:00:02,000\nhi\n", 2, "expected a timing line"),
    ("1\n00:00:01,000 --> 00:00:02,000\nhi\n\nhello\n", 5, "expected a cue number"),
    ("1\n00:00:03,000 --> 00:00:02,000\nhi\n", 2, "ends before it starts"),
    ("1\n00:61:00,000 --> 00:62:00,000\nhi\n", 2, "below 60"),
    ("1\n00:00:01,000 --> 00:00:03,000\na\n\n2\n00:00:02,000 --> 00:00:04,000\nb\n", 6, "overlapping"),
    ("1\n00:00:05,000 --> 00:00:06,000\na\n\n2\n00:00:01,000 --> 00:00:02,000\nb\n", 6, "out of order"),
    ("1\n", 2, "end of file"),
])
def test_malformed_input_names_file_and_line(tmp_path, text, line, what):
    path = tmp_path / "bad.srt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        parse_srt(path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg and f"line {line}:" in msg and what in msg, msg


def test_other_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        parse_srt(tmp_path / "missing.srt")
    (tmp_path / "empty.srt").write_text("\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="no subtitle cues"):
        parse_srt(tmp_path / "empty.srt")
    (tmp_path / "latin.srt").write_bytes(b"1\n00:00:01,000 --> 00:00:02,000\ncaf\xe9\n")
    with pytest.raises(InputError, match="line 3: not valid UTF-8"):
        parse_srt(tmp_path / "latin.srt")
    overlapping = "00:00:01,000 --> 00:00:03,000\na\n\n00:00:02,000 --> 00:00:04,000\nb\n"
    assert len(parse_srt(overlapping, allow_overlap=True)) == 2


def test_write_and_format_roundtrip(tmp_path):
    cues = parse_srt(SAMPLE)
    out = write_srt(tmp_path / "o.srt", cues)
    assert parse_srt(out) == cues
    assert format_time(3723.0045) == "01:02:03,004" or format_time(3723.0045) == "01:02:03,005"


@given(st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 5000), st.text("ab c\u00e9", min_size=1, max_size=12)),
                min_size=1, max_size=6))
def test_roundtrip_property(items):
    t, cues = 0, []
    for k, (gap, length, text) in enumerate(items, 1):
        start, t = t + gap, t + gap + length
        body = " ".join(text.split()) or "x"
        cues.append(Cue(k, start / 1000, t / 1000, body))
    assert parse_srt(format_srt(cues)) == cues
