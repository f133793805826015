"""``deepaudio speech-corpus``: many real sentences spoken by the toy world's voices (TTS training only)."""

from __future__ import annotations

import argparse

NAME = "speech-corpus"
HELP = "speak real sentences (WordNet usage examples or a text file) in the toy world's voices for TTS training"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder (re-running skips finished utterances)")
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--wordnet", metavar="DIR", help="WordNet 3.0 database folder (e.g. /usr/share/wordnet from "
                     "Debian wordnet-base): its usage examples")
    src.add_argument("--text", metavar="FILE", help="UTF-8 text file, one sentence per line")
    parser.add_argument("--n", type=int, default=3000, help="utterances to speak (default 3000)")
    parser.add_argument("--seed", type=int, default=0, help="order of the sentences (default 0)")
    parser.add_argument("--speakers", nargs="+", metavar="ID",
                        help="speaker ids (default: every toy-world voice; 'all': those and the extra festival and "
                        "espeak-ng voices, deepaudio.data.toyworld.voices.EXTRA_SPEAKERS; 'variants': "
                        "espeak-ng's named variants, VARIANT_SPEAKERS; 'warped': the 'all' voices two semitones "
                        "higher and lower, WARPED_SPEAKERS)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from deepaudio.data.toyworld.sentences import SENTENCES
    from deepaudio.data.toyworld.speech_corpus import write_speech_corpus
    from deepaudio.data.toyworld.text_sources import corpus_sentences, read_text_lines, wordnet_examples

    raw, source = ((wordnet_examples(args.wordnet), "wordnet-3.0 usage examples") if args.wordnet
                   else (read_text_lines(args.text), f"text file {args.text}"))
    sentences = corpus_sentences(raw, exclude=SENTENCES)
    speakers = tuple(k for arg in args.speakers for k in arg.split(",") if k) if args.speakers else None
    stats = write_speech_corpus(args.out, sentences, args.n, source, seed=args.seed, speakers=speakers,
                                progress=not args.no_progress)
    rate = f"{stats['utterances_per_s']:.1f} utt/s" if stats["written"] else "nothing new"
    print(f"speech-corpus: {len(sentences)} usable sentences of {len(raw)}; wrote {stats['written']}, skipped "
          f"{stats['skipped']} ({rate}); manifest {args.out}/manifests/tts_train.csv")
    return 0
