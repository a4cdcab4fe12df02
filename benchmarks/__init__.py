"""Side-by-side speed runs of flodl_core, hand-written NumPy and (optionally) PyTorch."""
