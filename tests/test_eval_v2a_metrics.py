"""FD / KL / IS / IB / DeSync maths against closed forms, and av-benchmark cache reading."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepaudio.errors import InputError
from deepaudio.eval.v2a import (
    desync,
    fd,
    frechet_distance,
    ib_score,
    inception_score,
    kl_softmax,
    load_feature_cache,
    metrics_from_caches,
    prepare_clip,
)


def test_frechet_closed_forms():
    # commuting covariances: ||mu||^2 + sum (sqrt(a) - sqrt(b))^2
    d = frechet_distance(np.zeros(2), np.diag([1.0, 4.0]), np.ones(2), np.diag([4.0, 9.0]))
    assert d == pytest.approx(2.0 + (1 - 2) ** 2 + (2 - 3) ** 2)
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2
    one_d = frechet_distance(np.array([3.0]), np.array([[4.0]]), np.array([1.0]), np.array([[1.0]]))
    assert one_d == pytest.approx(5.0)
    # identical distributions
    a = np.array([[2.0, 0.5], [0.5, 1.0]])
    assert frechet_distance(np.ones(2), a, np.ones(2), a) == pytest.approx(0.0, abs=1e-10)


def test_frechet_non_commuting_matches_sqrtm():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    s1, s2 = a @ a.T + 0.1 * np.eye(5), b @ b.T + 0.1 * np.eye(5)
    m1, m2 = rng.normal(size=5), rng.normal(size=5)
    ref = ((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * scipy_linalg.sqrtm(s1 @ s2).real)
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(ref, rel=1e-8)


def test_fd_of_samples_approaches_closed_form():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20000, 3))
    y = rng.normal(size=(20000, 3)) * 2.0 + np.array([1.0, 0.0, 0.0])
    assert fd(x, y) == pytest.approx(1.0 + 3 * (2.0 - 1.0) ** 2, rel=0.05)
    with pytest.raises(InputError):
        fd(x[:1], y)


def test_kl_is_ib_desync():
    logits = torch.randn(6, 10, generator=torch.Generator().manual_seed(0))
    assert kl_softmax(logits, logits) == pytest.approx(0.0, abs=1e-12)
    p = torch.tensor([[0.0, 0.0]])
    q = torch.tensor([[np.log(3.0), 0.0]])  # softmax (0.75, 0.25)
    assert kl_softmax(q, p) == pytest.approx(0.5 * np.log(0.5 / 0.75) + 0.5 * np.log(0.5 / 0.25))
    confident = torch.eye(10).repeat(5, 1) * 50.0  # every class equally often, each predicted surely
    assert inception_score(confident, splits=1)[0] == pytest.approx(10.0, rel=1e-6)
    assert inception_score(torch.zeros(20, 10))[0] == pytest.approx(1.0)
    v = torch.randn(4, 8)
    assert ib_score(v, v) == pytest.approx(1.0) and ib_score(v, -v) == pytest.approx(-1.0)
    assert desync(torch.tensor([10, 10, 0, 20])) == pytest.approx(1.0)  # grid: 10 -> 0 s, 0 -> -2 s, 20 -> 2 s


def test_prepare_clip_lengths():
    wav = torch.randn(2, 44100 * 11)
    assert prepare_clip(wav, 44100, 16000).shape == (128000,)
    x = prepare_clip(wav[:, :44100], 44100, 32000, exact_samples=320000)
    assert x.shape == (320000,) and float(x[40000:].abs().max()) == 0.0


def test_metrics_from_av_benchmark_caches(tmp_path):
    g = torch.Generator().manual_seed(0)
    names = [f"clip{i}" for i in range(12)]
    for side, shift in (("gen", 0.5), ("ref", 0.0)):
        folder = tmp_path / side
        folder.mkdir()
        torch.save({n: {"2048": torch.randn(64, generator=g) + shift, "logits": torch.randn(527, generator=g)}
                    for n in names}, folder / "pann_features.pth")
        torch.save({n: torch.randn(3, 128, generator=g) for n in names}, folder / "vggish_features.pth")
    out = metrics_from_caches(load_feature_cache(tmp_path / "gen"), load_feature_cache(tmp_path / "ref"))
    assert set(out) == {"fd_panns", "kl_panns", "is", "fd_vgg"}
    assert out["fd_panns"] > 64 * 0.25 and out["kl_panns"] > 0 and out["is"] >= 1.0
    with pytest.raises(InputError, match="no av-benchmark"):
        load_feature_cache(tmp_path)


def test_cli_reads_av_benchmark_caches(tmp_path):
    import json

    from deepaudio.cli.main import main

    g = torch.Generator().manual_seed(1)
    for side in ("gen", "ref"):
        folder = tmp_path / f"{side}_feat"
        folder.mkdir()
        torch.save({f"c{i}": torch.randn(768, generator=g)[:32] for i in range(8)}, folder / "passt_features_embed.pth")
        torch.save({f"c{i}": torch.randn(527, generator=g) for i in range(8)}, folder / "passt_logits.pth")
    (tmp_path / "gen").mkdir()
    out = tmp_path / "out"
    assert main(["eval", "--task", "v2a", "--gen", str(tmp_path / "gen"), "-o", str(out), "--gen-features",
                 str(tmp_path / "gen_feat"), "--ref-features", str(tmp_path / "ref_feat"),
                 "--metrics", "fd_passt,kl_passt,ib_score"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["fd_passt"] > 0 and s["kl_passt"] > 0 and "av-benchmark" in s["fd_passt_backend"]
    assert s["ib_score"] is None and "imagebind" in s["ib_score_unavailable"]
