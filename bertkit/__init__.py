"""bertkit: BERT fine-tuning from raw public data to a scored result."""

__version__ = "0.1.0"
