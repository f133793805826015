"""deepaudio.nn"""
