"""Benchmark cases. Each module defines CASE (metadata) and FRAMEWORKS (name -> factory).

A factory is called in a fresh worker process, after the thread-count variables are
set, and returns a ``Bench``: ``check()`` (values that must agree across frameworks)
and ``step()`` (one unit of timed work). ``_common.py`` holds helpers shared by the
flodl-vs-torch model cases (lenet_step, resnet_blocks, transformer_block);
``lstm_step`` holds the Adam helpers it shares with ``recurrent_attention``.
"""
CASES = ("add_chain", "mlp_step", "lenet_step", "resnet_blocks", "transformer_block",
         "lstm_step", "recurrent_attention", "adam_step",
         "graph_overhead")
