"""The analytics system's machine learning (the seed's AnomalyDetector, PredictiveAnalytics,
BehaviorAnalyzer and ModelManager) with scikit-learn; see docs/analytics-ml.md.

Pure models (features, anomaly, forecast, segments, simulate, evaluation) take numpy frames and return
dataclasses; store, influx, history and registry do the I/O; service is what the engine, the API
(router) and the CLI call. Nothing is imported here, so `import spotctl_sandbox.analytics.ml.service`
costs only what it uses."""
