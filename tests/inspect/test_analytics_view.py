"""The analytics screen's figures from the API's answers: per-minute rates, the band, marks on the line."""

from __future__ import annotations

from spotctl.inspect.analytics_view import SPANS, model_rows, overview

T0 = 1_796_191_200  # 2026-12-02 06:00 UTC
THREE_H, DAY = SPANS[0], SPANS[1]


def series(points: list[tuple[int, float | None]]) -> dict[str, object]:
    return {"series": [{"tags": {}, "points": [list(p) for p in points]}]}


def test_buckets_become_per_minute_rates_and_the_plays_forecast_is_divided_by_sixty() -> None:
    answers = {"series": series([(T0, 50), (T0 + 600, None)]),
               "forecast": {"confidence": 0.9, "points": [{"at": "2026-12-02T06:00:00Z", "value": 600.0,
                                                            "lower": 480.0, "upper": 720.0}]}}
    chart = overview("t", "plays", DAY, answers).chart
    assert (chart.xs, chart.ys) == ([T0, T0 + 600], [5.0, 0.0])  # 10 min buckets; a silent one is zero
    assert (chart.value, chart.lower, chart.upper) == ([10.0], [8.0], [12.0])
    assert chart.title == "plays per minute, last 24 h · next 12 h forecast, ··· 90% band"


def test_active_users_forecast_is_already_the_hours_mean_minute() -> None:
    answers = {"forecast": {"confidence": 0.8, "points": [{"at": T0, "value": 7.0, "lower": 6.0, "upper": 9.0}]}}
    assert overview("t", "active_users", THREE_H, answers).chart.value == [7.0]


def test_an_anomaly_is_marked_on_the_bucket_holding_it_and_only_listed_when_off_the_chart() -> None:
    anomalies = [{"minute": "2026-12-02T06:07:00Z", "anomaly_score": 0.71, "reasons": ["plays +190%"],
                  "source": "live", "model_version": 3},
                 {"minute": "2026-11-20T01:00:00Z", "anomaly_score": 0.65, "reasons": [], "source": "scan",
                  "model_version": 2}]
    ov = overview("t", "plays", DAY, {"series": series([(T0, 30), (T0 + 600, 90)]), "anomalies": anomalies})
    assert (ov.chart.marks_x, ov.chart.marks_y) == ([T0], [3.0])
    assert ov.anomalies == [("2026-12-02 06:07", "0.710", "plays +190%", "live", "v3"),
                            ("2026-11-20 01:00", "0.650", "-", "scan", "v2")]


def test_a_part_the_api_refused_is_a_note_and_the_rest_is_still_shown() -> None:
    refused = "model 'predictive_analytics' is not trained yet: train it with `spotctl analytics train ...`"
    ov = overview("t", "plays", THREE_H, {"series": series([(T0, 4)]), "forecast_error": refused})
    assert ov.notes == [f"no forecast band: {refused}"]
    assert ov.chart.ys == [4.0] and not ov.chart.band_xs
    assert overview("t", "plays", THREE_H, {}).notes == ["no plays for tenant t in the last 3 h yet"]


def test_every_model_gets_a_row_saying_how_to_train_it_or_which_version_is_live() -> None:
    models = [{"name": "anomaly_detector", "version": v, "status": s, "created_at": "2026-12-02T06:25:00Z",
               "tenants": ["a"], "metrics": {"precision": 0.8, "recall": 0.6}} for v, s in ((2, "candidate"),
                                                                                          (1, "promoted"))]
    rows = model_rows(models)
    assert rows[0] == ("anomaly_detector", "v1 promoted", "v1, v2", "precision 0.8; recall 0.6",
                       "2026-12-02 06:25", "a")
    assert rows[1][:4] == ("predictive_analytics", "not trained", "",
                           "spotctl analytics train predictive_analytics")
    assert model_rows([{**models[0], "status": "retired"}])[0][1] == "none promoted"
