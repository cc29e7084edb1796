"""/metrics in Prometheus format and /v4/health, on a real app and database."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from dlserve.container import Services
from dlserve.downloads.runner import EXPORT_KINDS


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_metrics_report_downloads_queue_exports_and_http_latency(
    client: TestClient, services: Services, auth: dict[str, str]
) -> None:
    created = client.post("/v4/businesses/search", json={"query": "*", "download": True}, headers=auth).json()
    before = samples(client)
    assert before[("dlserve_downloads", (("status", "queued"),))] == 1
    assert before[("dlserve_jobs", (("kind", "export"), ("status", "queued")))] == 1
    while (job := services.queue.claim("w", EXPORT_KINDS)) is not None:
        services.runner.run(job, "w", threading.Event())
    after = samples(client)
    assert after[("dlserve_downloads", (("status", "completed"),))] == 1
    assert after[("dlserve_export_records_total", ())] == 4
    assert after[("dlserve_export_bytes_total", ())] > 0
    latency = after[
        (
            "dlserve_http_request_duration_seconds_count",
            (("method", "POST"), ("route", "/v4/{data_type}/search"), ("status", "202")),
        )
    ]
    assert latency == 1
    assert created["status"] == "queued"


def test_health_reports_each_part(client: TestClient) -> None:
    body = client.get("/v4/health").json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["storage"]["status"] == "ok"
    assert body["checks"]["queue"]["jobs"]["dead"] == 0
    assert body["checks"]["records"]["loaded"]["businesses"] == 4
