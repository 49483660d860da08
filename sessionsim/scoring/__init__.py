"""Scoring a sessionizer's output against the truth: index, scorer, check, latency."""
