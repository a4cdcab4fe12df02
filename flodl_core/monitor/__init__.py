"""Training monitor: terminal lines with ETA, progress bars, resource sampling,
a live web dashboard and offline reports (HTML, text log, CSV).

>>> from flodl_core.monitor import Monitor
>>> import io
>>> with Monitor(3, stream=io.StringIO(), sample_resources=False) as m:
...     for epoch in range(3):
...         m.log(epoch, 0.5, {"loss": 1.0 / (epoch + 1)})
>>> len(m.history)
3

See docs/monitor.md for the guide.
"""
from .monitor import Monitor
from .resources import hardware_summary

__all__ = ["Monitor", "hardware_summary"]
