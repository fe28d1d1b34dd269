"""Text encoders: packaged weights loaded once by name or path."""
