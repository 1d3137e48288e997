"""Ingest: source feeds into bronze, every record kept as received."""
