"""The `spaces` terminal client: sign in, listen to a Space, speak into it.

It speaks exactly the protocol in docs/audio-protocol.md. PyAudio (the `cli` extra) is imported
only to use a microphone or a speaker, so `--file` and `--out` work on machines without sound.
"""
