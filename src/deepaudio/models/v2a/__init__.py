"""deepaudio.models.v2a"""
