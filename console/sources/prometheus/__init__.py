"""Prometheus and VictoriaMetrics: the breaker source and its queries."""
