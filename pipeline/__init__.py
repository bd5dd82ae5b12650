"""Data steps with no model weights: sources, validation, redaction, store, aggregates, exports."""
