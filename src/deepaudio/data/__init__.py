"""deepaudio.data"""
