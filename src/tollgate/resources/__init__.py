"""The declarative resource model: documents, validation and loading (no I/O beyond reading files)."""
