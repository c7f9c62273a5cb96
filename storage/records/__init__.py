"""Query functions, one module per kind of record (see docs/storage.md)."""
