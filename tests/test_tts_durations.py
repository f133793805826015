"""Phoneme input with durations: the phonemizer, the duration table, the frame expansion, the flat-start
aligner (on synthetic spectra with known boundaries and on real speech), training and inference."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from deepaudio.errors import CheckpointError
from deepaudio.models.tts.durations import DurationTable, align_corpus, expand, integer_durations, viterbi
from deepaudio.text import Tokenizer, Vocab
from deepaudio.text.phonemes import ARPABET, number_words, phonemize


def test_phonemize_words_punctuation_numbers_and_unknown_words():
    assert phonemize("The cat.") == ["DH", "AH", " ", "K", "AE", "T", "."]
    assert phonemize("Yes; no!") == ["Y", "EH", "S", ",", " ", "N", "OW", "!"]
    assert phonemize("2 dogs") == ["T", "UW", " ", "D", "AA", "G", "Z"]
    assert phonemize("zqxv") == ["z", "q", "x", "v"]  # not in the dictionary: spelled, lower case
    assert phonemize("  (\"hello\")  ") == ["HH", "AH", "L", "OW"]
    assert phonemize("") == [] and phonemize("...") == ["."]
    assert number_words(0) == "zero" and number_words(104) == "one hundred four"
    assert number_words(2_000_013) == "two million thirteen"


def test_tokenizer_detects_a_phoneme_vocab():
    vocab = Vocab([" ", ",", ".", *ARPABET, *"abcdefghijklmnopqrstuvwxyz"])
    tok = Tokenizer(vocab)
    assert tok.mode == "phoneme"
    ids = tok.encode("the cat")
    assert [vocab.tokens[i] for i in ids] == ["DH", "AH", " ", "K", "AE", "T"]
    assert Tokenizer(Vocab([" ", "a", "b", "c"])).mode == "char"


@pytest.mark.parametrize("seed", range(5))
def test_integer_durations_sum_and_proportion(seed):
    rng = np.random.default_rng(seed)
    d = rng.uniform(0.5, 12.0, size=rng.integers(1, 40))
    total = int(rng.integers(1, 400))
    out = integer_durations(d, total)
    assert out.sum() == total and (out >= 0).all() and out.size == d.size
    ends = np.cumsum(out)
    ideal = np.cumsum(d) / d.sum() * total
    assert np.abs(ends - ideal).max() <= 0.5 + 1e-9  # rounding of the boundaries only
    dens = rng.uniform(0, 1, size=total)
    out2 = integer_durations(d, total, dens)
    assert out2.sum() == total and (out2 >= 0).all()


def test_density_puts_tokens_where_the_contour_is_high():
    density = np.zeros(200)
    density[100:200] = 1.0  # speech only in the second half
    frames = integer_durations(np.ones(10), 200, density)
    assert frames.sum() == 200
    starts = np.concatenate([[0], np.cumsum(frames)[:-1]])
    assert (starts[1:] >= 100).all()  # every token after the first starts inside the voiced half
    assert np.abs(frames[1:] - 10).max() <= 1


def test_expand_repeats_ids():
    assert expand([3, 1, 2], np.array([2, 0, 3])).tolist() == [3, 3, 2, 2, 2]


def test_viterbi_recovers_a_known_segmentation_and_skips_gaps():
    true = np.array([4, 0, 6, 3])  # token 1 is a skippable gap with no frames
    skippable = np.array([False, True, False, False])
    lab = np.repeat(np.arange(4), true)
    ll = np.full((true.sum(), 4), -10.0)
    ll[np.arange(true.sum()), lab] = 0.0
    assert viterbi(ll, skippable).tolist() == true.tolist()
    assert viterbi(ll[:2], np.zeros(4, dtype=bool)) is None  # fewer frames than tokens


def test_flat_start_aligner_finds_boundaries_of_synthetic_spectra():
    rng = np.random.default_rng(0)
    n_tok, dim = 8, 100
    protos = rng.normal(0, 3, size=(n_tok, dim))
    mels, ids, truth = [], [], []
    for _ in range(60):
        seq = rng.integers(1, n_tok, size=rng.integers(4, 9))
        seq = np.insert(seq, rng.integers(1, len(seq)), 0)  # one word gap
        dur = rng.integers(3, 12, size=len(seq))
        dur[seq == 0] = rng.integers(0, 2)
        x = np.repeat(protos[seq], dur, axis=0) + rng.normal(0, 0.5, size=(dur.sum(), dim))
        mels.append(torch.tensor(x, dtype=torch.float32))
        ids.append(seq.tolist())
        truth.append(dur)
    durs, model = align_corpus(mels, ids, ["spk"] * len(mels), {0}, rounds=10)
    errs = [np.abs(np.cumsum(d) - np.cumsum(t)).mean() for d, t in zip(durs, truth)]
    # from a flat start: boundaries mostly within a frame (measured: median 0.75, 90th percentile 1.9 frames)
    assert np.median(errs) < 1.0 and np.percentile(errs, 90) < 2.5, sorted(np.round(errs, 2))
    durs2, _ = align_corpus(mels[:5], ids[:5], ["spk"] * 5, {0}, means=model)  # fixed statistics
    assert all(d is not None and d.sum() == m.shape[0] for d, m in zip(durs2, mels[:5]))


def test_duration_table_fit_save_load(tmp_path):
    table = DurationTable.fit([[1, 2, 1], [2, 3]], [[4, 6, 2], [8, 10]])
    assert table.frames == {1: 3.0, 2: 7.0, 3: 10.0}
    assert table.predict([1, 9]).tolist() == [3.0, 30 / 5]
    path = tmp_path / "durations.json"
    path.write_text(table.to_text())
    back = DurationTable.load(path)
    assert back.frames == table.frames and back.default == table.default
    path.write_text(json.dumps({"format": 99}))
    with pytest.raises(CheckpointError):
        DurationTable.load(path)


def test_train_with_durations_then_speak(tmp_path, capsys):
    """`deepaudio train tts --durations` on real espeak/flite speech: the run aligns, trains, exports
    durations.json, and the pipeline then lays the phonemes over the frames it plans."""
    from deepaudio.cli.main import main as cli
    from deepaudio.data.manifest import ManifestRow, write_manifest
    from deepaudio.eval.samples import espeak, flite
    from deepaudio.io.audio import save_audio
    from deepaudio.pipelines.tts import TTSPipeline

    texts = ["The cat sat on the mat.", "We walked home in the rain.", "Turn left at the old church.",
             "My brother plays the guitar.", "It was a bright cold day.", "Dinner is ready."]
    rows = []
    for k, t in enumerate(texts):
        wav, sr = espeak(t, voice="en-us", speed=170) if k % 2 == 0 else flite(t, voice="slt")
        save_audio(tmp_path / f"{k}.wav", wav, sr)
        rows.append(ManifestRow(tmp_path / f"{k}.wav", t, "espeak" if k % 2 == 0 else "slt"))
    write_manifest(tmp_path / "train.csv", rows[:5])
    write_manifest(tmp_path / "val.csv", rows[5:])
    out = tmp_path / "run"
    args = ["train", "tts", "--config", "tiny", "--durations", "--data", tmp_path / "train.csv", "--val",
            tmp_path / "val.csv", "--out", out, "--steps", 3, "--warmup", 1, "--batch-frames", 800,
            "--align-rounds", 3, "--log-every", 1000]
    assert cli([str(a) for a in args]) == 0
    doc = json.loads((out / "alignments.json").read_text())
    for name, n in (("train", 5), ("val", 1)):
        assert len(doc[name]["durations"]) == n and all(d is not None for d in doc[name]["durations"])
    assert json.loads((out / "model" / "config.json").read_text())["config"]["text_average_upsampling"] is False
    # a second run on the same clips reuses those alignments instead of aligning again
    def rerun(name, data="train.csv", durations=True):
        return [str(a) for a in ["train", "tts", "--config", "tiny", *(["--durations"] if durations else []),
                                 "--data", tmp_path / data, "--val", tmp_path / "val.csv", "--out", tmp_path / name,
                                 "--steps", 1, "--warmup", 1, "--batch-frames", 800, "--log-every", 1000,
                                 "--alignments", out / "alignments.json"]]

    capsys.readouterr()
    assert cli(rerun("run2")) == 0
    assert "alignment round" not in capsys.readouterr().err
    assert json.loads((tmp_path / "run2" / "alignments.json").read_text()) == doc
    # alignments of other clips, or without --durations: one line, exit 2, nothing trained
    write_manifest(tmp_path / "other.csv", rows[1:])
    assert cli(rerun("run3", data="other.csv")) == 2
    err = capsys.readouterr().err.strip()
    assert "other train clips" in err and len(err.splitlines()) == 1
    broken = json.loads((out / "alignments.json").read_text())
    broken["train"]["durations"][0] = ["x"]
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    args5 = rerun("run5")
    args5[-1] = str(tmp_path / "broken.json")
    assert cli(args5) == 2 and "not an alignments.json" in capsys.readouterr().err
    assert cli(rerun("run4", durations=False)) == 2
    assert "--alignments needs --durations" in capsys.readouterr().err
    assert not (tmp_path / "run3" / "model").exists() and not (tmp_path / "run4" / "model").exists()

    pipe = TTSPipeline.from_pretrained(out / "model")
    assert pipe.tokenizer.mode == "phoneme" and pipe.durations is not None
    # the duration table is exported beside the model, kept by save_pretrained, and lays out the text
    ids = pipe.tokenizer.encode("Dinner is ready.")
    assert np.allclose(pipe._token_frames(ids), pipe.durations.predict(ids))
    pipe.save_pretrained(tmp_path / "copy")
    assert TTSPipeline.from_pretrained(tmp_path / "copy").durations is not None
    ref = (tmp_path / "0.wav", texts[0])
    wav, sr = pipe("A short new sentence.", str(ref[0]), ref_text=ref[1], nfe=2, seed=0)
    assert sr == 24000 and wav.shape[-1] > 0
    contour = torch.zeros(120)
    contour[30:90] = 1.0
    wav, _ = pipe("A short new sentence.", str(ref[0]), ref_text=ref[1], nfe=2, seed=0, duration=120 * 256 / 24000)
    assert wav.shape[-1] == 120 * 256
    # the frame-level text of a contour-driven job: phonemes inside the voiced span, the prompt's over its frames
    jobs = [(0, "A short new sentence.", 120, contour)]
    text = pipe._frame_text(pipe._prompt_text(ref[1], 50), jobs)
    assert text.shape == (1, 170)
    gen = text[0, 50:]
    pause = pipe.tokenizer.vocab.index[","]
    assert (gen[:30] == pause).all() and (gen[90:] == pause).all()  # the contour's silences are pauses
    assert len(torch.unique_consecutive(gen[30:90])) >= 8  # the phonemes are spoken in the voiced span
    # a contour run: the window keeps its length, its quiet start and end are silence added around the speech
    # (an inner pause is still sampled, as pause tokens)
    contour[55:70] = 0.0
    import dataclasses

    from deepaudio.models.tts.dit import DiT

    torch.manual_seed(0)  # the same model with the V2S energy input (untrained weights: only timing is checked)
    v2s = TTSPipeline(DiT(dataclasses.replace(pipe.model.config, energy_input=True)), pipe.tokenizer,
                      durations=pipe.durations)
    wav, _ = v2s("A short new sentence.", str(ref[0]), ref_text=ref[1], nfe=2, seed=0, energy=contour,
                  ref_energy="speech")
    assert wav.shape[-1] == 120 * 256
    assert (wav[0, : 30 * 256] == 0).all() and (wav[0, 90 * 256:] == 0).all()
    assert wav[0, 30 * 256: 90 * 256].abs().max() > 0


def test_quiet_runs_of_a_contour():
    from deepaudio.v2s.contour import quiet_runs

    c = np.ones(40)
    c[5:8] = 0.0  # too short to be a pause
    c[20:32] = 0.05
    out = quiet_runs(c)
    assert out[20:32].all() and out.sum() == 12
    assert quiet_runs(np.zeros(10)).all()


def test_quiet_ends_of_a_contour():
    from deepaudio.v2s.contour import quiet_ends

    c = torch.zeros(100)
    c[17:60] = 1.0
    c[70:81] = 0.5
    assert quiet_ends(c) == (17, 19)
    assert quiet_ends(c[10:85]) == (0, 0)  # 7 and 4 quiet frames at the ends: shorter than a pause
    short = torch.ones(50)
    short[:5] = 0.0  # shorter than a pause: stays part of the speech
    assert quiet_ends(short) == (0, 0)
    assert quiet_ends(torch.zeros(30)) == (0, 0)  # all quiet: nothing to place by, keep the whole window


def _kinds(tokens: str) -> list[str]:
    return ["word" if t == " " else "sentence" if t == "." else "closed" if t == "m" else "phoneme" for t in tokens]


@pytest.mark.parametrize("seed", range(4))
def test_contour_durations_put_the_sentence_end_into_the_long_pause(seed):
    """Two sentences over a contour whose long pause is off the duration-proportional split: the sentence
    boundary moves into the pause, word gaps take the short dips, and the durations fill the window."""
    from deepaudio.v2s.placement import contour_durations

    rng = np.random.default_rng(seed)
    first, second = "ab cd ef.", "gh ij kl mn op."
    tokens = first + " " + second
    d = rng.uniform(4, 8, len(tokens))
    d[[k for k, c in enumerate(tokens) if c in " ."]] = 1.5  # pauses are short in the table (the aligner's)
    t = 300
    gap_start = int(rng.integers(90, 120))  # the proportional split would fall near 300 * 9 / 25 = 108 +- ...
    quiet = np.zeros(t, dtype=bool)
    quiet[gap_start:gap_start + 40] = True
    quiet[200:212] = True  # a word-length dip inside the second sentence
    out = contour_durations(d, quiet, _kinds(tokens))
    assert out.sum() == t and (out >= 1).all()
    ends = np.cumsum(out)
    second_start = ends[len(first)]  # the end of the word gap between the sentences
    assert gap_start + 36 <= second_start <= gap_start + 50  # the pause ends at gap_start + 40
    proportional = integer_durations(d, t)
    # no pause at all: close to the plain proportional layout
    flat = contour_durations(d, np.zeros(t, dtype=bool), _kinds(tokens))
    assert np.abs(np.cumsum(flat) - np.cumsum(proportional)).max() <= 0.1 * t


def test_contour_durations_edge_cases():
    from deepaudio.v2s.placement import contour_durations

    assert contour_durations(np.ones(5), np.zeros(4, dtype=bool), _kinds("abcde")) is None  # fewer frames
    with pytest.raises(ValueError, match="unknown token kind"):
        contour_durations(np.ones(2), np.zeros(10, dtype=bool), ["phoneme", "vowel"])
    quiet = np.zeros(60, dtype=bool)
    quiet[20:40] = True  # a word gap takes the pause; without one, the phonemes must cover it
    out = contour_durations(np.array([10.0, 1.0, 10.0]), quiet, ["phoneme", "word", "phoneme"])
    assert out.sum() == 60 and out[0] <= 20 and out[0] + out[1] >= 40
    spoken = contour_durations(np.array([10.0, 10.0]), quiet, ["phoneme", "phoneme"])
    assert spoken.sum() == 60 and (spoken >= 1).all()


def test_align_placement_speaks_around_an_inner_pause():
    """The pipeline's frame-level text under "align": a job with quiet ends and a pause between two
    sentences gets pause tokens in the quiet runs and both sentences' phonemes in their voiced spans."""
    from deepaudio.pipelines import tts as tts_mod
    from deepaudio.v2s import placement

    assert placement.PLACEMENT == "align"
    vocab = Vocab([" ", ",", ".", *[chr(c) for c in range(ord("a"), ord("z") + 1)]])
    pipe = tts_mod.TTSPipeline.__new__(tts_mod.TTSPipeline)
    pipe.tokenizer = Tokenizer(vocab, mode="char")
    pipe.durations = DurationTable({}, 6.0)
    pipe.device = torch.device("cpu")
    contour = np.zeros(200)
    contour[20:80] = 1.0
    contour[120:180] = 1.0
    prompt = pipe._prompt_text("ab.", 10)
    assert prompt.shape == (10,)
    text = pipe._frame_text(prompt, [(0, "abc defg. hij klm.", 200, torch.tensor(contour))])[0, 10:]
    pause = vocab.index[","]
    assert (text[:20] == pause).all() and (text[180:] == pause).all()
    assert (text[85:115] == pause).all()  # the sentence gap
    first = {vocab.tokens[i] for i in text[20:80].tolist()}
    second = {vocab.tokens[i] for i in text[120:180].tolist()}
    assert set("abcdefg") <= first and not (set("hijklm") & first)
    assert set("hijklm") <= second and not (set("abcdefg") & second)
