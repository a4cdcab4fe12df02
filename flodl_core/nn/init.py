"""Weight initialisation (being written)."""
__all__ = []
