"""FlowBuilder and Graph: networks described as data flow.

See docs/graph.md. ``FlowBuilder(entry).through(...).tag(...).build()`` gives a
``Graph``, which is a Module.
"""
from .builder import FlowBuilder, LoopBuilder, MapBuilder
from .graph import Graph
from .modules import (ArgmaxSelector, FixedSelector, LearnedHalt, NamedInputModule,
                      SigmoidRouter, SoftmaxRouter, StateAdd, ThresholdHalt, accepts_refs)
from .nodes import MergeOp

__all__ = ["FlowBuilder", "LoopBuilder", "MapBuilder", "Graph", "MergeOp",
           "NamedInputModule", "accepts_refs", "StateAdd", "SoftmaxRouter", "SigmoidRouter",
           "FixedSelector", "ArgmaxSelector", "ThresholdHalt", "LearnedHalt"]
