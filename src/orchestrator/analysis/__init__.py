"""Analyses of logs and results: read files, compute figures, recommend settings."""
