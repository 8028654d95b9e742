"""Pluggable detectors, each with its thresholds in config."""
