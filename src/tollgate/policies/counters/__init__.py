"""Limit counters behind one interface: in-process for one node, Redis for several (see `base.Counters`)."""

from tollgate.policies.counters.base import Acquired, Counters, CountersUnavailableError, Window, WindowState
from tollgate.policies.counters.memory import MemoryCounters

__all__ = ["Acquired", "Counters", "CountersUnavailableError", "MemoryCounters", "Window", "WindowState"]
