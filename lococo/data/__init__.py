"""Readers of real dataset formats, synthetic generators writing those formats, validation."""
