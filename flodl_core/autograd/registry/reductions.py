"""Registry entries: (to be filled)."""
