"""`deepaudio info`: what is built in, what the optional backends are."""

from __future__ import annotations

from deepaudio.cli.main import main


def test_info_lists_built_in_clip_and_dlib(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    built_in = next(line for line in out.splitlines() if line.startswith("built in:"))
    assert "CLIP" in built_in and "BigVGAN" in built_in
    assert "open_clip " not in out.split("optional backends:")[1]  # CLIP needs no package: never "missing"
    assert any(line.split()[1:2] == ["dlib"] for line in out.splitlines() if line.startswith("  "))
