"""What the web page relies on: `GET /api/{user_id}/tasks`, the `suggestions` of a turn, the page itself
with its policy, and `/dev/session`, which must exist only in local development mode and answer only a
browser on this machine. (The page in a browser: tests/web/test_web_page.py.)"""

from __future__ import annotations

from pathlib import Path

import httpx2
import jwt
import pytest

from chat_gateway.app import create_app
from chat_gateway.settings import GatewaySettings
from chat_gateway.suggestions import suggest
from chat_gateway.webapp import dev_session_allowed, page_csp
from shared.local_auth import GATEWAY_AUDIENCE, LOCAL_ISSUER, LocalSigner
from shared.schemas import ToolCallRecord
from tests.support.gateway_fixtures import auth, user_token
from tests.support.processes import Service


def add(http: httpx2.Client, gateway: Service, user: str, *titles: str) -> None:
    calls = " ; ".join(f'call add_task {{"title": "{title}"}}' for title in titles)
    response = http.post(f"{gateway.base_url}/api/{user}/chat", headers=auth(user), json={"message": calls})
    assert response.status_code == 200, response.text


def tasks(http: httpx2.Client, gateway: Service, user: str, query: str = "") -> httpx2.Response:
    return http.get(f"{gateway.base_url}/api/{user}/tasks{query}", headers=auth(user))


# --- GET /api/{user_id}/tasks -------------------------------------------------------------------------


def test_tasks_lists_the_callers_tasks_in_pages(http: httpx2.Client, gateway: Service, clean_db: str) -> None:
    add(http, gateway, "tina", "One", "Two", "Three")
    add(http, gateway, "tom", "Not Tina's")
    first = tasks(http, gateway, "tina", "?limit=2")
    assert first.status_code == 200, first.text
    page = first.json()
    assert len(page["tasks"]) == 2
    assert page["next_cursor"]
    rest = tasks(http, gateway, "tina", f"?limit=2&cursor={page['next_cursor']}").json()
    assert len(rest["tasks"]) == 1
    assert rest["next_cursor"] is None
    # Oldest first, each task once (one turn's calls may run at once, so their order is not fixed).
    listed = page["tasks"] + rest["tasks"]
    assert sorted(task["title"] for task in listed) == ["One", "Three", "Two"]
    assert [task["id"] for task in listed] == sorted(task["id"] for task in listed)


def test_tasks_filters_by_status(http: httpx2.Client, gateway: Service, clean_db: str) -> None:
    add(http, gateway, "sue", "Open", "Finished")
    finished = next(t["id"] for t in tasks(http, gateway, "sue").json()["tasks"] if t["title"] == "Finished")
    done = http.post(
        f"{gateway.base_url}/api/sue/chat",
        headers=auth("sue"),
        json={"message": f'call complete_task {{"task_id": {finished}}}'},
    )
    assert done.status_code == 200
    titles = {
        status: sorted(t["title"] for t in tasks(http, gateway, "sue", f"?status={status}").json()["tasks"])
        for status in ("all", "pending", "completed")
    }
    assert titles == {"all": ["Finished", "Open"], "pending": ["Open"], "completed": ["Finished"]}


def test_tasks_needs_the_callers_own_path(http: httpx2.Client, gateway: Service, clean_db: str) -> None:
    add(http, gateway, "ursula", "Private")
    anonymous = http.get(f"{gateway.base_url}/api/ursula/tasks")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "unauthenticated"
    forged = http.get(f"{gateway.base_url}/api/ursula/tasks", headers={"Authorization": "Bearer not-a-token"})
    assert forged.status_code == 401
    other = http.get(f"{gateway.base_url}/api/ursula/tasks", headers=auth("mallory"))
    assert other.status_code == 403
    assert other.json() == {
        "error": {"code": "forbidden", "message": "The path's user id is not the signed-in user."}
    }
    assert "Private" not in other.text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?status=trashed", "status"),
        ("?status=done", "status"),
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=ten", "limit"),
        ("?cursor=" + "x" * 600, "cursor"),
    ],
)
def test_tasks_refuses_bad_parameters_naming_them(
    http: httpx2.Client, gateway: Service, query: str, field: str
) -> None:
    response = tasks(http, gateway, "vera", query)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"].startswith(f"{field}:")


def test_a_forged_cursor_is_422_not_a_server_error(http: httpx2.Client, gateway: Service) -> None:
    response = tasks(http, gateway, "wes", "?cursor=bm90LWEtY3Vyc29y")
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"


def test_the_tasks_route_is_documented_with_the_one_error_shape(
    http: httpx2.Client, gateway: Service
) -> None:
    document = http.get(f"{gateway.base_url}/openapi.json").json()
    operation = document["paths"]["/api/{user_id}/tasks"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("TaskPage")
    for status in ("401", "403", "422", "503", "504"):
        schema = operation["responses"][status]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith("/Error"), status
    parameters = {parameter["name"]: parameter for parameter in operation["parameters"]}
    assert parameters["status"]["schema"]["enum"] == ["all", "pending", "completed"]
    assert (parameters["limit"]["schema"]["minimum"], parameters["limit"]["schema"]["maximum"]) == (1, 100)
    # The page's own routes serve the browser, not API clients.
    assert not {"/", "/web/config", "/dev/session"} & set(document["paths"])
    chat = document["components"]["schemas"]["ChatResponse"]["properties"]
    assert chat["suggestions"]["items"]["enum"] == ["yes", "no", "undo"]


# --- suggestions ----------------------------------------------------------------------------------------


def call(name: str, result: object, *, is_error: bool = False) -> ToolCallRecord:
    return ToolCallRecord(name=name, arguments={}, result=result, is_error=is_error)


PREVIEW = {"status": "confirmation_required", "action": "delete", "count": 2, "tasks": [],
           "confirmation_token": "tok"}  # fmt: skip


@pytest.mark.parametrize(
    ("calls", "expected"),
    [
        ([], []),
        ([call("list_tasks", {"tasks": [], "next_cursor": None})], []),
        ([call("add_task", {"task_id": 1, "status": "created", "title": "Milk"})], ["undo"]),
        ([call("delete_task", {"task_id": 1, "status": "deleted", "title": "Milk"})], ["undo"]),
        ([call("delete_tasks", PREVIEW)], ["yes", "no"]),
        # A question still open beats an undo offer for another change of the same turn.
        ([call("add_task", {"status": "created"}), call("delete_tasks", PREVIEW)], ["yes", "no"]),
        ([call("delete_tasks", {**PREVIEW, "status": "deleted", "confirmation_token": None})], ["undo"]),
        ([call("complete_tasks", {**PREVIEW, "status": "nothing_to_do", "confirmation_token": None})], []),
        # A preview without a token cannot be confirmed; a failed call changed nothing.
        ([call("delete_tasks", {**PREVIEW, "confirmation_token": None})], []),
        ([call("add_task", "Task title is too long.", is_error=True)], []),
        ([call("undo", {"status": "undone", "summary": "Restored 'Milk'."})], []),
    ],
)
def test_suggestions_come_from_the_tool_results(calls: list[ToolCallRecord], expected: list[str]) -> None:
    assert suggest(calls) == expected


def test_a_turn_reports_its_suggestions(http: httpx2.Client, gateway: Service, clean_db: str) -> None:
    chat = f"{gateway.base_url}/api/xena/chat"
    added = http.post(chat, headers=auth("xena"), json={"message": 'call add_task {"title": "A"}'}).json()
    assert added["suggestions"] == ["undo"]
    preview = http.post(chat, headers=auth("xena"), json={"message": 'call delete_tasks {"status": "all"}'})
    assert preview.json()["suggestions"] == ["yes", "no"]
    listed = http.post(chat, headers=auth("xena"), json={"message": "call list_tasks {}"}).json()
    assert listed["suggestions"] == []


# --- the page and /dev/session -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client", "host", "origin", "allowed"),
    [
        ("127.0.0.1", "127.0.0.1:8000", None, True),
        ("127.0.0.1", "localhost:8000", "http://localhost:8000", True),
        ("::1", "[::1]:8000", "http://[::1]:8000", True),
        ("127.0.0.2", "127.0.0.1", None, True),
        # Another machine: whatever its headers say.
        ("192.168.1.20", "127.0.0.1:8000", None, False),
        ("203.0.113.9", "localhost", "http://localhost:8000", False),
        (None, "127.0.0.1:8000", None, False),
        ("testclient", "127.0.0.1:8000", None, False),
        # This machine, but through a name that is not loopback (DNS rebinding) or for another origin.
        ("127.0.0.1", "evil.example:8000", None, False),
        ("127.0.0.1", "127.0.0.1.evil.example", None, False),
        ("127.0.0.1", None, None, False),
        ("127.0.0.1", "127.0.0.1:8000", "https://evil.example", False),
        ("127.0.0.1", "127.0.0.1:8000", "null", False),
        ("127.0.0.1", "127.0.0.1:8000", "file://", False),
    ],
)
def test_dev_session_answers_only_a_browser_on_this_machine(
    client: str | None, host: str | None, origin: str | None, allowed: bool
) -> None:
    assert dev_session_allowed(client, host, origin) is allowed


def local_settings(data_dir: Path, **values: object) -> GatewaySettings:
    return GatewaySettings(_env_file=None, data_dir=data_dir, agent_model="builtin", **values)  # type: ignore[arg-type]


async def post_session(app: object, client: tuple[str, int], **headers: str) -> httpx2.Response:
    transport = httpx2.ASGITransport(app=app, client=client)  # type: ignore[arg-type]
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
        return await http.post("/dev/session", headers=headers)


async def test_dev_session_mints_a_demo_token_for_loopback_only(tmp_path: Path) -> None:
    app = create_app(local_settings(tmp_path))
    signer = LocalSigner.load_or_create(tmp_path)
    response = await post_session(app, ("127.0.0.1", 50000))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user_id"] == "demo-user"
    claims = jwt.decode(
        body["token"],
        jwt.PyJWK(signer.public_jwks()["keys"][0]).key,
        algorithms=["EdDSA"],
        audience=GATEWAY_AUDIENCE,
        issuer=LOCAL_ISSUER,
    )
    assert claims["sub"] == "demo-user"
    assert response.headers["cache-control"] == "no-store"
    remote = await post_session(app, ("198.51.100.7", 50000))
    rebound = await post_session(app, ("127.0.0.1", 50000), Host="evil.example")
    foreign = await post_session(app, ("127.0.0.1", 50000), Origin="https://evil.example")
    for refused in (remote, rebound, foreign):
        assert refused.status_code == 404
        assert refused.json() == {"error": {"code": "not_found", "message": "Not Found"}}


async def test_dev_session_does_not_exist_with_an_identity_provider(tmp_path: Path) -> None:
    app = create_app(local_settings(tmp_path, auth_jwks_url="https://auth.example/api/auth/jwks"))
    response = await post_session(app, ("127.0.0.1", 50000))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert not (tmp_path / "local-auth").exists()


def test_the_page_is_served_with_a_strict_policy(http: httpx2.Client, gateway: Service) -> None:
    page = http.get(f"{gateway.base_url}/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "style-src 'self';" in policy
    assert "connect-src 'self';" in policy
    assert "unsafe" not in policy
    assert '<script type="module" src="/web/app.js"></script>' in page.text
    for asset, kind in (("app.js", "javascript"), ("api.js", "javascript"), ("app.css", "css")):
        response = http.get(f"{gateway.base_url}/web/{asset}")
        assert response.status_code == 200, asset
        assert kind in response.headers["content-type"]
        # Revalidated on every load (ETag), so a new version of the page is never mixed with an old one.
        assert response.headers["cache-control"] == "no-cache"
        assert "etag" in response.headers
    missing = http.get(f"{gateway.base_url}/web/nope.js")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    # This gateway trusts a JWKS and has no WEB_AUTH_URL: the page asks for a token, /dev/session is gone.
    assert http.get(f"{gateway.base_url}/web/config").json()["auth"] == "token"
    assert http.post(f"{gateway.base_url}/dev/session").status_code == 404
    token = user_token("demo-user")
    assert (
        http.post(f"{gateway.base_url}/dev/session", headers={"Authorization": f"Bearer {token}"}).status_code
        == 404
    )


async def test_with_web_auth_url_the_page_signs_in_there(tmp_path: Path) -> None:
    settings = local_settings(
        tmp_path,
        auth_jwks_url="https://auth.example/api/auth/jwks",
        web_auth_url="https://auth.example/",
    )
    assert "connect-src 'self' https://auth.example;" in page_csp(settings)
    transport = httpx2.ASGITransport(app=create_app(settings))
    async with httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http:
        config = (await http.get("/web/config")).json()
        page = await http.get("/")
    assert config["auth"] == "better_auth"
    assert config["auth_url"] == "https://auth.example"
    assert "https://auth.example" in page.headers["content-security-policy"]


@pytest.mark.parametrize("value", ["auth.example", "ftp://auth.example", "https://auth.example/?next=x"])
def test_web_auth_url_must_be_an_http_url(tmp_path: Path, value: str) -> None:
    with pytest.raises(ValueError, match="web_auth_url"):
        local_settings(tmp_path, auth_jwks_url="https://auth.example/api/auth/jwks", web_auth_url=value)
