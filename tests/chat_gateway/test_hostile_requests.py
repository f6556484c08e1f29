"""Hostile requests to the gateway: whatever a client sends, the answer is a 4xx in the one error shape
naming the field, never a 500 and never a value read as something it is not."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from tests.support.gateway_fixtures import auth
from tests.support.processes import Service

USER = "hostile-user"


def assert_invalid(response: httpx2.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "invalid_request"
    assert field in body["error"]["message"]
    assert "Traceback" not in response.text


def raw_post(http: httpx2.Client, url: str, raw_json: str) -> httpx2.Response:
    """Send JSON text as written (escapes included): a lone surrogate cannot be built by a JSON encoder."""
    return http.post(
        url, content=raw_json.encode(), headers={**auth(USER), "Content-Type": "application/json"}
    )


@pytest.mark.parametrize("path", ["/chat", "/chat/stream"])
@pytest.mark.parametrize(
    ("raw_json", "field"),
    [
        ('{"message": "add a\\u0000b"}', "message"),
        ('{"message": "add \\ud800 milk"}', "message"),
        ('{"message": "add \\udfff"}', "message"),
        ('{"message": "hi", "conversation_id": true}', "conversation_id"),
        ('{"message": "hi", "conversation_id": "1"}', "conversation_id"),
        ('{"message": "hi", "conversation_id": 1.0}', "conversation_id"),
        ('{"message": "hi", "conversation_id": 9223372036854775808}', "conversation_id"),
        ('{"message": "hi", "conversation_id": -1}', "conversation_id"),
        ('{"message": 12}', "message"),
        ('{"message": ["hi"]}', "message"),
        ('{"message": null}', "message"),
        ('{"message": "hi", "extra": 1}', "extra"),
    ],
)
def test_hostile_chat_bodies_are_422_naming_the_field(
    http: httpx2.Client, gateway: Service, clean_db: str, path: str, raw_json: str, field: str
) -> None:
    assert_invalid(raw_post(http, f"{gateway.base_url}/api/{USER}{path}", raw_json), field)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "a\x00b"}, "cursor"),
        ({"cursor": "x" * 513}, "cursor"),
        ({"limit": "true"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1e3"}, "limit"),
        ({"limit": str(2**64)}, "limit"),
    ],
)
@pytest.mark.parametrize("path", ["/conversations", "/conversations/1/messages"])
def test_hostile_query_parameters_are_422_naming_the_field(
    http: httpx2.Client, gateway: Service, clean_db: str, path: str, params: dict[str, Any], field: str
) -> None:
    response = http.get(f"{gateway.base_url}/api/{USER}{path}", params=params, headers=auth(USER))
    assert_invalid(response, field)


@pytest.mark.parametrize("conversation_id", ["0", "-1", "true", "1.5", str(2**63), "%00"])
def test_hostile_conversation_ids_in_the_path_are_422(
    http: httpx2.Client, gateway: Service, clean_db: str, conversation_id: str
) -> None:
    response = http.get(
        f"{gateway.base_url}/api/{USER}/conversations/{conversation_id}/messages", headers=auth(USER)
    )
    assert_invalid(response, "conversation_id")


def test_a_conversation_id_of_true_is_not_conversation_one(
    http: httpx2.Client, gateway: Service, clean_db: str
) -> None:
    first = http.post(f"{gateway.base_url}/api/{USER}/chat", json={"message": "hello"}, headers=auth(USER))
    assert first.status_code == 200, first.text
    assert first.json()["conversation_id"] >= 1
    again = raw_post(
        http, f"{gateway.base_url}/api/{USER}/chat", '{"message": "hi", "conversation_id": true}'
    )
    assert_invalid(again, "conversation_id")


def test_malformed_json_is_a_documented_4xx_in_the_error_shape(
    http: httpx2.Client, gateway: Service, clean_db: str
) -> None:
    for raw in ('{"message": "hi"', "[]", '"hi"', "\xff"):
        response = raw_post(http, f"{gateway.base_url}/api/{USER}/chat", raw)
        assert response.status_code in (400, 422), response.text
        assert set(response.json()) == {"error"}


def test_the_document_states_the_real_limits_and_the_one_error_shape(
    http: httpx2.Client, gateway: Service
) -> None:
    document = http.get(f"{gateway.base_url}/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert schemas["ChatRequest"]["properties"]["message"]["maxLength"] == 4000
    assert "HTTPValidationError" not in schemas
    chat = document["paths"]["/api/{user_id}/chat"]["post"]["responses"]
    assert {"200", "400", "401", "403", "404", "409", "413", "422", "429", "503", "504"} <= set(chat)
    assert "Retry-After" in chat["429"]["headers"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    content = response["content"]["application/json"]["schema"]
                    assert content["$ref"].endswith("Error"), (method, path, status)
