"""A multimodal shopping assistant: hybrid product search, explained results, thin shells."""

__version__ = "0.1.0"
