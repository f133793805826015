"""MCD / MCD-SL: our analysis and alignment against the pymcd package on real speech."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from deepaudio.eval import samples
from deepaudio.eval.mcd import dtw_path, fastdtw_path, mcd, mcd_from_features, mcep_features, mel_cepstrum


def _librivox():
    try:
        return [p for p, _ in samples.librivox_utterances()]
    except Exception as exc:  # noqa: BLE001
        pytest.skip(str(exc))


def test_ground_truth_against_itself_is_zero():
    path = _librivox()[1]
    wav, sr = samples._read(path)
    res = mcd(wav, sr, wav, sr)
    assert res.mcd == 0.0 and res.mcd_sl == 0.0
    assert res.frames_ref == res.frames_gen == res.path_len


def test_mel_cepstrum_matches_sptk():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pysptk = pytest.importorskip("pysptk")
        pyworld = pytest.importorskip("pyworld")
    wav, sr = samples._read(_librivox()[4])
    import soxr

    x = soxr.resample(wav[0].numpy().astype(np.float64), sr, 22050, quality="HQ")
    _, sp, _ = pyworld.wav2world(x, fs=22050, frame_period=5.0, fft_size=512)
    ref = pysptk.sptk.mcep(sp, order=13, alpha=0.65, maxiter=0, etype=1, eps=1e-8, min_det=0.0, itype=3)
    np.testing.assert_allclose(mel_cepstrum(sp), ref, atol=1e-9)


def test_matches_pymcd_on_real_speech(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pymcd = pytest.importorskip("pymcd.mcd")
    utts = _librivox()
    import soundfile as sf

    slt, sr_slt = samples.flite("he was not an ill disposed young man", "slt")
    gen_file = tmp_path / "slt.wav"
    sf.write(gen_file, slt[0].numpy(), sr_slt)
    for ref_file, gen in ((utts[1], utts[4]), (utts[1], gen_file)):
        ref_wav, ref_sr = samples._read(ref_file)
        gen_wav, gen_sr = samples._read(gen)
        ours = mcd(ref_wav, ref_sr, gen_wav, gen_sr)
        theirs = pymcd.Calculate_MCD("dtw").calculate_mcd(str(ref_file), str(gen))
        theirs_sl = pymcd.Calculate_MCD("dtw_sl").calculate_mcd(str(ref_file), str(gen))
        assert ours.mcd == pytest.approx(theirs, rel=5e-3)
        assert ours.mcd_sl == pytest.approx(theirs_sl, rel=5e-3)
        assert ours.mcd > 5.0  # different utterances are far apart
        assert ours.mcd_sl >= ours.mcd


def test_fastdtw_close_to_exact_and_valid_paths():
    rng = np.random.default_rng(0)
    a = np.cumsum(rng.normal(size=(57, 3)), axis=0)
    b = np.repeat(a, 2, axis=0)[::3] + 0.01 * rng.normal(size=(38, 3))
    for path in (dtw_path(a, b), fastdtw_path(a, b)):
        assert path[0] == (0, 0) and path[-1] == (56, 37)
        steps = np.diff(np.array(path), axis=0)
        assert ((steps >= 0) & (steps <= 1)).all() and (steps.sum(1) >= 1).all()

    def cost(p):
        return sum(np.linalg.norm(a[i] - b[j]) for i, j in p)

    assert cost(dtw_path(a, b)) <= cost(fastdtw_path(a, b)) + 1e-9


def test_stft_envelope_runs_and_sl_penalises_length():
    wav, sr = samples._read(_librivox()[4])
    ref = mcep_features(wav, sr, envelope="stft")
    gen = mcep_features(wav[:, : wav.shape[1] // 2], sr, envelope="stft")
    res = mcd_from_features(ref, gen, alignment="exact")
    assert res.mcd_sl == pytest.approx(res.mcd * len(ref) / len(gen))
