"""Text front end of the TTS: F5-TTS vocab files, character/pinyin tokens, normalisation, chunking."""

from deepaudio.text.chunking import split_sentences
from deepaudio.text.tokenizer import Tokenizer, Vocab

__all__ = ["Tokenizer", "Vocab", "split_sentences"]
