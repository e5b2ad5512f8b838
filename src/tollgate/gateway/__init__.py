"""The data plane: serves Invoke URLs from an immutable routing snapshot, never from the store."""
