"""deepaudio.train"""
