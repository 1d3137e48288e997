"""Clean: bronze records into typed, conformed silver tables and silver.quarantine."""
