"""Broker and queue tables: RabbitMQ queues (counts, consumers, rates), Kafka topics (partitions and
offsets), BullMQ queues (jobs per state). Each is `spotctl rabbit queues` / `kafka topics` / `jobs queues` live."""

from __future__ import annotations

from spotctl.inspect.jobs_view import COUNT_STATES
from spotctl.inspect.rabbit_view import QUEUE_COLUMNS, queue_row
from spotctl.tui import data
from spotctl.tui.components.table_screen import Row, TableScreen


class RabbitScreen(TableScreen):
    COLUMNS = QUEUE_COLUMNS
    HEADING = "rabbitmq queues (vhost /)"

    def fetch(self) -> list[Row]:
        return [queue_row(q) for q in data.rabbit_queues(self.sources)]


class KafkaScreen(TableScreen):
    COLUMNS = ("topic", "partitions", "messages", "latest offsets")
    HEADING = "kafka topics"

    def fetch(self) -> list[Row]:
        return [(t["topic"], t["partitions"], t["messages"], " ".join(f"{p['partition']}:{p['latest']}"
                                                                      for p in t["offsets"]))
                for t in data.kafka_topics(self.sources)]


class JobsScreen(TableScreen):
    COLUMNS = ("queue", *COUNT_STATES, "paused")
    HEADING = "BullMQ queues"

    def fetch(self) -> list[Row]:
        return [(r["queue"], *(r[s] for s in COUNT_STATES), "yes" if r["paused"] else "")
                for r in data.job_counts(self.sources)]
