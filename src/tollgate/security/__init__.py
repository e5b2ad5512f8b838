"""Protection against credential guessing: per-client failure back-off and secret fingerprints for logs."""
