"""The planner: a pure function from pending pods, capacity and offerings to the nodes to buy.

See docs/design/planner.md for the algorithm and the choices behind it.
"""

from luna_autoscaler.planner.planning import plan

__all__ = ["plan"]
