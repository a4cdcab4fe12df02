"""Registry entries: (being written)."""
