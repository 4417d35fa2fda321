"""Official extracts: signed PDF documents of a worker's record (documents), their keys (signing), the
pages that issue and verify them (views)."""
