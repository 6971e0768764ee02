"""The stack's monitor: what Prometheus cannot scrape elsewhere, and where alerts land.

It exports Kafka consumer lag (Debian has no Kafka exporter) and BullMQ depth per queue and state,
and receives Alertmanager's webhook: each firing or resolved alert group becomes a hub notification
for ops/admin users, an email to the SMTP sink and a push to the push sink.
"""
