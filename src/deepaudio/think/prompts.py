"""Prompt text for language-model reasoners (our wording of the questions DeepSound-V1 describes).

The paper fine-tunes a video-audio LLM to (0) answer "Generate high-quality audio from video
step-by-step." with a fixed plan, and (2) decide whether the generated audio contains voice-over, with
a chain of thought in four parts: summary, caption, reasoning, conclusion. We ask for exactly those
parts and for a machine-readable last line, so any chat model's answer can be parsed the same way.
"""

from __future__ import annotations

PLAN_QUESTION = "Generate high-quality audio from video step-by-step."

PLAN_STEPS = (
    "1. Generate audio for the video with the video-to-audio model (no text prompt).",
    "2. Watch the video with that audio and decide whether the audio contains voice-over: speech that "
    "nobody on screen is producing.",
    "3. If it does, remove the voice-over (separate the voice and keep the rest, or regenerate without it).",
    "4. Check whether what is left is silent (more than 90% of frames below -50 dB).",
    "5. If it is silent, post-process: remove the audio, keep the first audio, or regenerate with the "
    "negative prompt 'human voice'.",
)

SYSTEM = ("You are an audio-visual assistant that checks sound tracks generated for silent videos. "
          "Answer in English, step by step.")

PLAN_INSTRUCTIONS = ("List the steps you will follow, one per line, numbered. Use the steps a careful sound "
                     "designer would use: generate, check for voice-over, remove it, check for silence, "
                     "post-process.")

DETECT_QUESTION = (
    "You are given frames of a video and the sound track generated for it, plus measurements of the sound "
    "track. Does the audio contain voice-over, that is, human speech that is not produced by a person "
    "visibly talking in the video?")

ANSWER_FORMAT = (
    "Answer in exactly four parts, each on its own line and starting with its label:\n"
    "Summary: what you are asked and how you will decide.\n"
    "Caption: what the video shows and what the audio contains.\n"
    "Reasoning: compare the speech with the mouths on screen, segment by segment.\n"
    "Conclusion: your decision in one sentence.\n"
    "Then a last line 'VOICE-OVER: YES' or 'VOICE-OVER: NO', and if YES a line "
    "'SEGMENTS: i, j' naming the speech segments (numbers from the measurements) that are voice-over.")


def detect_prompt(measurements: str) -> str:
    return f"{DETECT_QUESTION}\n\nMeasurements:\n{measurements}\n\n{ANSWER_FORMAT}"


def plan_prompt() -> str:
    return f"{PLAN_QUESTION}\n{PLAN_INSTRUCTIONS}"
