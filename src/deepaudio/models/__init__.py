"""Networks: the F5-TTS DiT (tts/), the MMAudio MM-DiT (v2a/), vocoders, encoders and the MoF gate."""
