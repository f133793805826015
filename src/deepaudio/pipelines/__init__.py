"""deepaudio.pipelines"""
