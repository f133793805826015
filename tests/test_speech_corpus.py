"""The TTS speech corpus: WordNet usage examples as clean sentences, spoken by the toy world's voices."""

from __future__ import annotations

import shutil

import pytest
import soundfile as sf

from deepaudio.cli.main import main
from deepaudio.data.manifest import read_manifest
from deepaudio.data.toyworld.speech_corpus import corpus_order
from deepaudio.data.toyworld.text_sources import clean_sentence, corpus_sentences, wordnet_examples
from deepaudio.errors import InputError

# Lines in the WordNet 3.0 data-file format: offset, lexfile, pos, words, pointers, then "| gloss; examples".
WORDNET_HEADER = "  1 This software and database is being provided to you, the LICENSEE, by\n"
WORDNET_LINES = [
    '00001740 03 n 01 dog 0 000 | a domestic animal; "the dog barked all night"; "dogs are loyal friends to many"\n',
    '00002000 29 v 01 run 0 000 | move fast; "he ran to the station this morning"; "run!"\n',
    '00002100 00 a 01 odd 0 000 | strange; "an xqzv word is never spoken here"; "the 3 cats sat on a mat"\n',
    '00002200 02 r 01 well 0 000 | in a good way; "she sings well, and her brother plays the piano"\n',
]


def _wordnet(tmp_path):
    (tmp_path / "data.noun").write_text(WORDNET_HEADER + WORDNET_LINES[0], encoding="latin-1")
    (tmp_path / "data.verb").write_text(WORDNET_LINES[1], encoding="latin-1")
    (tmp_path / "data.adj").write_text(WORDNET_LINES[2], encoding="latin-1")
    (tmp_path / "data.adv").write_text(WORDNET_LINES[3], encoding="latin-1")
    return tmp_path


def test_wordnet_examples_are_the_quoted_usage_examples(tmp_path):
    ex = wordnet_examples(_wordnet(tmp_path))
    assert ex == ["the dog barked all night", "dogs are loyal friends to many", "he ran to the station this morning",
                  "run!", "an xqzv word is never spoken here", "the 3 cats sat on a mat",
                  "she sings well, and her brother plays the piano"]


def test_clean_sentence_keeps_plain_dictionary_sentences_only():
    assert clean_sentence("the dog barked all night") == "The dog barked all night."
    assert clean_sentence("she sings well, and her brother plays the piano") == \
        "She sings well, and her brother plays the piano."
    assert clean_sentence("Is the dog barking all night?") == "Is the dog barking all night?"
    assert clean_sentence("run!") is None  # too short
    assert clean_sentence("an xqzv word is never spoken here") is None  # not in CMUdict
    assert clean_sentence("the 3 cats sat on a mat") is None  # digits
    assert clean_sentence("the cat (a tabby) sat on the mat") is None  # brackets
    assert clean_sentence("one two three four five six seven eight nine ten eleven twelve") is None  # too long


def test_corpus_sentences_deduplicate_and_exclude():
    raw = ["the dog barked all night", "The dog barked all  night", "the cat slept on the warm mat"]
    assert corpus_sentences(raw) == ["The dog barked all night.", "The cat slept on the warm mat."]
    assert corpus_sentences(raw, exclude=("The cat slept on the warm mat.",)) == ["The dog barked all night."]


def test_corpus_order_is_seeded_and_independent_of_input_order():
    s = [f"sentence number {k}" for k in range(50)]
    assert corpus_order(s, 0) == corpus_order(list(reversed(s)), 0)
    assert corpus_order(s, 0) != corpus_order(s, 1)


def test_missing_wordnet_folder_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="no WordNet data files"):
        wordnet_examples(tmp_path)


def test_cli_speaks_a_growing_corpus(tmp_path, capsys):
    if shutil.which("flite") is None or shutil.which("espeak-ng") is None:
        pytest.skip("flite / espeak-ng are not installed")
    text = tmp_path / "text.txt"
    lines = ["# a comment", "The dog barked all night long.", "She sings well and plays the piano.",
             "He ran to the station this morning.", "We had soup and bread for dinner.", "xqzv words are skipped here",
             "The kettle is boiling in the kitchen."]  # the last is a toy-world sentence: excluded
    text.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "corpus"
    args = ["speech-corpus", "--text", str(text), "--out", str(out), "--seed", "3", "--no-progress",
            "--speakers", "flite-kal", "espeak-us-f2"]
    assert main([*args, "--n", "2"]) == 0
    first = read_manifest(out / "manifests" / "tts_train.csv")
    assert main([*args, "--n", "4"]) == 0
    assert "4 usable sentences of 6" in capsys.readouterr().out
    rows = read_manifest(out / "manifests" / "tts_train.csv")
    assert [r.text for r in rows[:2]] == [r.text for r in first]  # growing --n keeps the earlier utterances
    assert sorted(r.text for r in rows) == sorted(lines[1:5])
    assert [r.speaker for r in rows] == ["flite-kal", "espeak-us-f2"] * 2
    shutil.move(out, tmp_path / "moved")  # relative paths: the folder can move
    rows = read_manifest(tmp_path / "moved" / "manifests" / "tts_train.csv")
    for r in rows:
        wav, sr = sf.read(r.audio_path)
        assert sr == 24000 and wav.ndim == 1 and 0.5 < len(wav) / sr < 6
    args[args.index("--out") + 1] = str(tmp_path / "moved")
    assert main([*args[:-1], "--n", "4"]) == 2  # other speakers than the folder was written with
    assert "another speakers" in capsys.readouterr().err
    assert main([*args, "--n", "5"]) == 2  # more than there are sentences
