"""Shared test fixtures. Tests run tiny configurations on CPU."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run (CI stays reproducible); explore with
# HYPOTHESIS_PROFILE=explore.
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parents[1]
# The official reference vectors (made by running the official code, too large for the repository):
# DEEPAUDIO_PARITY_DIR, else a parity/ folder in a "shared" folder beside the checkout.
PARITY = Path(os.environ.get("DEEPAUDIO_PARITY_DIR") or REPO.parent / "shared" / "parity")


@pytest.fixture(scope="session")
def parity_dir() -> Path:
    if not PARITY.is_dir():
        pytest.skip(f"no reference vectors at {PARITY} (set DEEPAUDIO_PARITY_DIR)")
    return PARITY


@pytest.fixture(autouse=True, scope="session")
def _feature_cache_in_tmp(tmp_path_factory):
    """V2A pipelines cache video features under the user's cache folder; tests keep theirs in a temp dir."""
    old = os.environ.get("DEEPAUDIO_FEATURE_CACHE")
    os.environ["DEEPAUDIO_FEATURE_CACHE"] = str(tmp_path_factory.mktemp("feature-cache"))
    yield
    if old is None:
        os.environ.pop("DEEPAUDIO_FEATURE_CACHE", None)
    else:
        os.environ["DEEPAUDIO_FEATURE_CACHE"] = old
