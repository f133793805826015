"""deepaudio.models.tts"""
