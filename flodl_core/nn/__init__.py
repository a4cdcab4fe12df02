"""Neural-network building blocks. ``nn.functional`` (``F``) holds the stateless ops."""
from . import functional
from . import functional as F  # noqa: F401

__all__ = ["functional", "F"]
