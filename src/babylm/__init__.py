"""babylm: train and evaluate small language models on BabyLM-sized data."""

__version__ = "0.1.0"
