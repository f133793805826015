"""The ``deepaudio`` command. Each subcommand lives in ``cmd_<name>.py`` and is thin: parse, call, print."""
