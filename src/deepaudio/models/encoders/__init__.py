"""deepaudio.models.encoders"""
