"""Rules of the documents service, in plain Python (no nameko, no database)."""
