"""CLIP's byte-level BPE tokenizer (open_clip ``SimpleTokenizer``), read from a local merges file.

MMAudio tokenises prompts with ``open_clip.get_tokenizer('ViT-H-14-378-quickgelu')``: lower-cased,
whitespace-collapsed text, split by CLIP's word pattern, each word's UTF-8 bytes mapped to printable
characters (the GPT-2 byte table), merged by rank with ``</w>`` closing a word, then
``[<start_of_text>] + ids + [<end_of_text>]`` cut to 77 (the last kept id forced to end-of-text) and
zero-padded. The vocabulary is derived from the merges: 256 byte symbols, the same with ``</w>``, one
entry per merge, then the two special tokens (ids 49406 and 49407 for the released 48,894 merges).

The merges come from the user's CLIP files (open_clip's ``bpe_simple_vocab_16e6.txt.gz`` or a
Hugging Face ``merges.txt``); nothing is bundled or downloaded. ``ftfy.fix_text`` (open_clip's mojibake
repair) is applied when ftfy is installed; for ordinary prompts it changes nothing.
"""

from __future__ import annotations

import gzip
import html
from pathlib import Path

import torch

from deepaudio.errors import BackendUnavailable, CheckpointError

SOT, EOT = "<start_of_text>", "<end_of_text>"
CONTEXT_LENGTH = 77
MERGE_FILE_NAMES = ("bpe_simple_vocab_16e6.txt.gz", "bpe_simple_vocab_16e6.txt", "merges.txt")
# CLIP's word pattern; Unicode letter/number classes need the ``regex`` package (not the standard ``re``).
_WORD_PATTERN = r"""<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


def _regex():
    try:
        import regex
    except ModuleNotFoundError as exc:
        raise BackendUnavailable("the CLIP tokenizer needs the 'regex' package",
                                 hint="pip install 'deepaudio[v2a-official]' (or: pip install regex)") from exc
    return regex


def byte_symbols() -> tuple[list[str], list[str]]:
    """The 256 printable stand-ins for bytes, in CLIP's id order: printable Latin-1 bytes map to themselves
    (listed first), the rest to code points from 256 upwards."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    order, chars, extra = list(keep), [chr(b) for b in keep], 0
    for b in range(256):
        if b not in keep:
            order.append(b)
            chars.append(chr(256 + extra))
            extra += 1
    return [c for _, c in sorted(zip(order, chars))], chars  # (by byte value, by id order)


def read_merges(path: str | Path) -> list[tuple[str, str]]:
    """Merge rules of a ``bpe_simple_vocab_16e6.txt[.gz]`` or ``merges.txt`` (first line is a header)."""
    path = Path(path)
    try:
        raw = gzip.open(path, "rt", encoding="utf-8").read() if path.suffix == ".gz" else path.read_text("utf-8")
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise CheckpointError(f"cannot read the CLIP BPE merges ({exc})", path) from exc
    lines = raw.split("\n")[1:]
    merges = [tuple(line.split()) for line in lines if line.strip()]
    if not merges or any(len(m) != 2 for m in merges):
        raise CheckpointError("not a BPE merges file (expected 'a b' pairs after a header line)", path,
                              "give open_clip's bpe_simple_vocab_16e6.txt.gz or a CLIP merges.txt")
    return merges


class CLIPTokenizer:
    def __init__(self, merges: list[tuple[str, str]], vocab_size: int | None = None,
                 context_length: int = CONTEXT_LENGTH):
        by_byte, by_id = byte_symbols()
        self.byte_char = by_byte
        if vocab_size is not None:  # the released vocabulary keeps the first vocab_size - 514 merges
            merges = merges[: vocab_size - 2 * 256 - 2]
        vocab = by_id + [c + "</w>" for c in by_id] + ["".join(m) for m in merges] + [SOT, EOT]
        self.encoder = {tok: i for i, tok in enumerate(vocab)}
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.sot, self.eot = self.encoder[SOT], self.encoder[EOT]
        self.vocab_size = len(vocab)
        self.context_length = context_length
        self._cache: dict[str, list[str]] = {}
        regex = _regex()
        self._words = regex.compile(_WORD_PATTERN, regex.IGNORECASE)
        self._spaces = regex.compile(r"\s+")

    @classmethod
    def from_file(cls, path: str | Path, vocab_size: int | None = None) -> CLIPTokenizer:
        return cls(read_merges(path), vocab_size)

    def bpe(self, word: str) -> list[str]:
        """Greedy lowest-rank merging of one word's symbols (last symbol carries ``</w>``)."""
        if word in self._cache:
            return self._cache[word]
        parts = [*word[:-1], word[-1] + "</w>"]
        while len(parts) > 1:
            pairs = {(a, b) for a, b in zip(parts, parts[1:])}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            merged, i = [], 0
            while i < len(parts):
                if i < len(parts) - 1 and (parts[i], parts[i + 1]) == best:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        self._cache[word] = parts
        return parts

    def clean(self, text: str) -> str:
        try:
            import ftfy

            text = ftfy.fix_text(text)
        except ModuleNotFoundError:
            pass
        text = html.unescape(html.unescape(text)).strip()
        return self._spaces.sub(" ", text).strip().lower()

    def encode(self, text: str) -> list[int]:
        ids = []
        for word in self._words.findall(self.clean(text)):
            symbols = "".join(self.byte_char[b] for b in word.encode("utf-8"))
            ids.extend(self.encoder[s] for s in self.bpe(symbols))
        return ids

    def __call__(self, texts: list[str] | str) -> torch.Tensor:
        """(B, context_length) int64 ids: SOT, tokens, EOT (forced last when cut), zero padding."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        out = torch.zeros(len(texts), self.context_length, dtype=torch.long)
        for i, text in enumerate(texts):
            ids = [self.sot, *self.encode(text), self.eot][: self.context_length]
            ids[-1] = self.eot
            out[i, : len(ids)] = torch.tensor(ids)
        return out


def find_merges_file(folder: str | Path) -> Path | None:
    folder = Path(folder)
    for name in MERGE_FILE_NAMES:
        if (folder / name).is_file():
            return folder / name
    return None
