"""Tokenizer (F5 vocab convention, OOV reporting) and sentence chunking."""

from __future__ import annotations

import warnings

import pytest

from deepaudio.errors import CheckpointError, InputError
from deepaudio.text import Tokenizer, Vocab, split_sentences
from deepaudio.text.chunking import chunk_budget


def _vocab(tmp_path, tokens):
    p = tmp_path / "vocab.txt"
    p.write_text("".join(f"{t}\n" for t in tokens), encoding="utf-8")
    return Vocab.load(p)


def test_vocab_line_index_is_id_and_space_is_a_token(tmp_path):
    v = _vocab(tmp_path, [" ", "!", "a", "b", "c", "e", "ni3"])
    assert len(v) == 7 and v.index[" "] == 0 and v.index["ni3"] == 6
    assert v.has_pinyin
    tok = Tokenizer(v)
    assert tok.mode == "pinyin"
    assert tok.encode("ab c!") == [2, 3, 0, 4, 1]
    ids = tok.batch(["ab", "c"])
    assert ids.tolist() == [[2, 3], [4, -1]]


def test_oov_characters_are_reported_not_silently_dropped(tmp_path):
    tok = Tokenizer(_vocab(tmp_path, [" ", "a", "b", "c", "e"]), mode="char", english=False)  # '#' stays '#'
    with pytest.warns(UserWarning, match=r"'#'.*'@'"):
        ids = tok.encode("a#b@")
    assert ids == [1, 2]
    with pytest.warns(UserWarning, match="é->e"):
        assert tok.encode("cé") == [3, 4]
    strict = Tokenizer(tok.vocab, mode="char", strict=True, english=False)
    with pytest.raises(InputError, match="'#'"):
        strict.encode("a#")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tok.encode("abc") == [1, 2, 3]


def test_cjk_goes_to_pinyin_or_is_reported(tmp_path):
    tok = Tokenizer(_vocab(tmp_path, [" ", "a", "ni3", "hao3"]))
    try:
        import pypinyin  # noqa: F401 - optional dependency
    except ImportError:
        with pytest.warns(UserWarning, match="pypinyin"):
            tok.encode("你好")
    else:
        assert tok.tokens("你好a") == [" ", "ni2", " ", "hao3", " ", "a"]  # tone sandhi: ni3 hao3 -> ni2 hao3


def test_missing_or_empty_vocab(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        Vocab.load(tmp_path / "nope.txt")
    (tmp_path / "e.txt").write_text("")
    with pytest.raises(CheckpointError, match="empty"):
        Vocab.load(tmp_path / "e.txt")


def test_split_sentences_keeps_sentences_whole():
    text = "First sentence here. Second one, with a clause! Third? Fourth and last."
    chunks = split_sentences(text, max_bytes=30)
    assert " ".join(chunks) == text
    assert all(len(c.encode()) <= 30 for c in chunks[:-1])
    assert len(chunks) >= 3
    assert split_sentences(text, max_bytes=1000) == [text]
    assert split_sentences("一句话。第二句话！", max_bytes=12) == ["一句话。", "第二句话！"]


def test_chunk_budget_follows_reference_rate():
    # 50 bytes over 5 s = 10 B/s; 22 s minus 5 s of reference leaves 17 s.
    assert chunk_budget("x" * 50, 5.0) == 170
    assert chunk_budget("x" * 50, 5.0, speed=0.5) == 85


def test_unknown_inflections_are_read_from_their_stem():
    """CMUdict lacks "hummed" (a toy-world test word, spelled out letter by letter before): a known stem
    with a regular suffix is read with the suffix voiced after the stem's last sound."""
    from deepaudio.text.phonemes import _dictionary, word_phonemes

    assert "hummed" not in _dictionary()
    assert word_phonemes("hummed") == ["HH", "AH", "M", "D"]  # doubled consonant undone, voiced -> D
    cases = {"hummed": "D", "blogged": "D", "glitched": "T", "abatemented": "D", "hashtags": "Z", "abashes": "Z"}
    for word, last in cases.items():
        assert word not in _dictionary()
        out = word_phonemes(word)
        assert out[-1] == last and all(t.isupper() for t in out), (word, out)
    assert word_phonemes("abatemented")[-3:] == ["T", "IH", "D"]  # after T/D: an extra syllable
    assert word_phonemes("abashes")[-3:] == ["SH", "IH", "Z"]  # after a sibilant too
    assert word_phonemes("Hummed") == word_phonemes("hummed")
    assert word_phonemes("zx") == ["z", "x"]  # no known stem: letters, as before
    assert word_phonemes("glorps") == list("glorps")
