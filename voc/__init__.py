"""voc: voice-of-customer insight pipeline (conversations in, weekly themes out)."""

__version__ = "0.1.0"
