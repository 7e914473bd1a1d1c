"""LaunchPad: a teaching kit for how services talk to each other.

The package is the library the lessons, the exercise and the grader stand on:
correlation ids, structured logs, a Redis connection (embedded or real), a service
client with deadlines, a tiny web layer, a gateway, and a minimal BullMQ-style queue.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
