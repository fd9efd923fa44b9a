"""cbconsole: the on-call console for circuit-breaker incidents."""

__version__ = "0.1.0"
