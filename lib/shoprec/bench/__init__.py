"""Benchmarks: reported with the command that produced them, never timed tests."""
