"""Voice queries: audio checks and Whisper transcription from packaged weights."""
