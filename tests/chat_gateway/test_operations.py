"""What operators and browsers see: health, readiness, metrics, docs, CORS, headers and request ids."""

from __future__ import annotations

import httpx2

from tests.support.gateway_fixtures import StartGateway, auth
from tests.support.processes import Service

SECURITY_HEADERS = ("x-content-type-options", "x-frame-options", "referrer-policy", "content-security-policy")


def test_health_readiness_and_openapi(http: httpx2.Client, gateway: Service) -> None:
    assert http.get(f"{gateway.base_url}/healthz").json() == {"status": "ok"}
    ready = http.get(f"{gateway.base_url}/readyz").json()
    assert (ready["status"], ready["checks"]["task_server"]) == ("ready", "ok")
    # How old the cached signing keys are and what went wrong last, so an outage shows before it bites.
    jwks = ready["checks"]["jwks"]
    assert jwks["usable"] is True
    assert jwks["last_error"] is None
    assert 0 <= jwks["age_seconds"] < 300
    metrics = http.get(f"{gateway.base_url}/metrics").text
    assert "gateway_jwks_usable 1.0" in metrics
    assert "gateway_jwks_age_seconds " in metrics
    assert "gateway_jwks_last_error_timestamp_seconds 0.0" in metrics
    spec = http.get(f"{gateway.base_url}/openapi.json").json()
    assert {"/api/{user_id}/chat", "/api/{user_id}/chat/stream", "/api/{user_id}/conversations"} <= set(
        spec["paths"]
    )
    docs = http.get(f"{gateway.base_url}/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


def test_metrics_count_requests_by_route_template(http: httpx2.Client, gateway: Service) -> None:
    http.post(f"{gateway.base_url}/api/metric-user/chat", headers=auth("metric-user"), json={"message": "hi"})
    text = http.get(f"{gateway.base_url}/metrics").text
    assert 'gateway_http_requests_total{method="POST",route="/api/{user_id}/chat",status="200"}' in text
    assert 'gateway_chat_turns_total{outcome="ok"}' in text
    assert "metric-user" not in text


def test_security_headers_on_every_response(http: httpx2.Client, gateway: Service) -> None:
    for response in (
        http.get(f"{gateway.base_url}/healthz"),
        http.get(f"{gateway.base_url}/nope"),
        http.post(f"{gateway.base_url}/api/u/chat", json={"message": "no token"}),
    ):
        for header in SECURITY_HEADERS:
            assert header in response.headers, (response.url, header)
        assert response.headers["x-content-type-options"] == "nosniff"


def test_cors_allows_only_the_configured_origins(start_gateway: StartGateway, http: httpx2.Client) -> None:
    with start_gateway(CORS_ALLOW_ORIGINS="https://app.example, http://localhost:3000") as gateway:
        url = f"{gateway.base_url}/api/u/chat"
        preflight = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        }
        allowed = http.options(url, headers={"Origin": "https://app.example", **preflight})
        denied = http.options(url, headers={"Origin": "https://evil.example", **preflight})
        simple = http.get(f"{gateway.base_url}/healthz", headers={"Origin": "http://localhost:3000"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in denied.headers
    assert simple.headers["access-control-allow-origin"] == "http://localhost:3000"


def test_request_id_is_returned_and_reaches_the_task_servers_log(
    http: httpx2.Client, gateway: Service, task_server: Service
) -> None:
    response = http.post(
        f"{gateway.base_url}/api/rid/chat",
        headers={**auth("rid"), "X-Request-ID": "turn-abc-123"},
        json={"message": "call list_tasks {}"},
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "turn-abc-123"
    assert "[turn-abc-123]" in gateway.log()
    assert "[turn-abc-123]" in task_server.log()
    forged = http.get(f"{gateway.base_url}/healthz", headers={"X-Request-ID": "x INFO forged: line"})
    assert forged.headers["x-request-id"] != "x INFO forged: line"
    assert "forged" not in gateway.log()


def test_logs_hold_no_tokens_or_messages(http: httpx2.Client, gateway: Service) -> None:
    headers = auth("quiet")
    secret_message = "my bank pin is 4921"
    http.post(f"{gateway.base_url}/api/quiet/chat", headers=headers, json={"message": secret_message})
    log = gateway.log()
    assert headers["Authorization"].split()[1] not in log
    assert secret_message not in log
    assert "Traceback" not in log
