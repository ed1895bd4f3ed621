"""Prometheus metrics of the service, in a registry of its own (one per app, so tests can start several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, Info

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.015, 0.02, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# The grade bounds and decision thresholds of ml.scoring's default policy fall on these edges.
PROBABILITY_BUCKETS = (0.01, 0.02, 0.03, 0.04, 0.06, 0.08, 0.10, 0.12, 0.15, 0.20, 0.30, 0.50, 1.0)


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "credit_requests", "Requests by route and HTTP status.", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "credit_request_seconds",
            "Time to answer, by route.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.model = Info("credit_model", "The model answering, and the challenger in shadow.", registry=self.registry)
        self.scores = Histogram(
            "credit_default_probability",
            "Default probabilities answered online.",
            buckets=PROBABILITY_BUCKETS,
            registry=self.registry,
        )
        self.decisions = Counter(
            "credit_decisions", "Online decisions by outcome.", ["decision"], registry=self.registry
        )
