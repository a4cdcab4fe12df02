"""Loss functions (being written)."""
__all__ = []
LOSSES = {}
