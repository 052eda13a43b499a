"""Prometheus metrics of one gateway app (its own registry, so apps and tests stay apart)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.messages = Counter(
            "knt_gateway_messages_total",
            "Messages stored, by who sent them.",
            ["role"],
            registry=self.registry,
        )
        self.reply_seconds = Histogram(
            "knt_gateway_reply_seconds",
            "From a shopper message received to the assistant's reply sent.",
            buckets=(0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10, 30),
            registry=self.registry,
        )
        self.fallbacks = Counter(
            "knt_gateway_fallbacks_total",
            "Replies where the assistant did not know the answer.",
            registry=self.registry,
        )
        self.handoffs = Counter(
            "knt_gateway_handoffs_total",
            "Conversations handed to a person.",
            ["reason"],
            registry=self.registry,
        )
        self.rasa_errors = Counter(
            "knt_gateway_rasa_errors_total",
            "Messages Rasa could not answer (kept for later).",
            registry=self.registry,
        )
        self.failed = Counter(
            "knt_gateway_failed_messages_total",
            "Messages Rasa took but could not answer after every try (the shopper was told).",
            registry=self.registry,
        )
        self.rejected = Counter(
            "knt_gateway_rejected_total",
            "Frames or connections refused, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "knt_gateway_duplicates_total",
            "Resent messages recognised by their id and not sent to Rasa again.",
            registry=self.registry,
        )
        self.connections = Gauge(
            "knt_gateway_connections", "Open widget connections.", registry=self.registry
        )
        self.restarts = Gauge(
            "knt_process_restarts",
            "Times the supervisor (`bot run`) restarted each process after it died.",
            ["process"],
            registry=self.registry,
        )
        self.process_up = Gauge(
            "knt_process_up",
            "1 while the supervisor reports the process running.",
            ["process"],
            registry=self.registry,
        )

    def observe_processes(self, processes: dict[str, dict[str, object]] | None) -> None:
        """Copy the supervisor's state file (see bot/supervisor.py) into the gauges."""
        for name, state in (processes or {}).items():
            restarts = state.get("restarts")
            if isinstance(restarts, int):
                self.restarts.labels(name).set(restarts)
            self.process_up.labels(name).set(1 if state.get("state") == "running" else 0)
