"""Separation networks (BS-RoFormer) for voice-over removal."""
