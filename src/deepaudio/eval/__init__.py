"""deepaudio.eval"""
