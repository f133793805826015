"""deepaudio.dsp"""
