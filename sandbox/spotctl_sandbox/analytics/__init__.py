"""The analytics system (issue 14): a stack service that windows the stack's Kafka events per tenant
into InfluxDB, keeps an event store, builds feature tables, raises alerts and serves the dashboard
API. Parts follow the seed's names: core/ (AnalyticsEngine, MetricsCollector, EventBus,
StateManager, AlertManager), processing/ (RealTimeProcessor, BatchProcessor), storage/
(StorageManager and its back-ends), api/ (the dashboard API); ml/ is the machine-learning side.
See docs/analytics.md."""

from importlib import resources


def schema_sql() -> str:
    """The service's tables (schema.sql beside this file): applied by the engine at start and by the
    ML side before its own, so the feature tables both read are declared once."""
    return resources.files(__name__).joinpath("schema.sql").read_text(encoding="utf-8")
