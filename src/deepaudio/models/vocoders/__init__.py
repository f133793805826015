"""deepaudio.models.vocoders"""
