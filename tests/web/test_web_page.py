"""The web chat page at `/` in a real browser (Debian's Chromium through Playwright), against the stack as
a developer runs it with `make run`: the task server and the gateway as processes in local development
mode (no identity provider, one DATA_DIR whose key both trust), the builtin model, PostgreSQL.

The scenario is a newcomer's first minutes, at desktop and at phone width: the page signs in as the demo
user by itself, a task is added by chat and appears in the list, a reload starts afresh and the earlier
conversation opens again, a bulk delete is confirmed with its button and undone with the next one.
Screenshots of each step land in the test's tmp_path (printed at the end; run with -s to see it).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2
import pytest

from tests.support.browser import chromium_path, require_playwright
from tests.support.gateway_fixtures import StartGateway, user_token
from tests.support.processes import Service, free_port, run_service

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, Request, Route, ViewportSize

VIEWPORTS: dict[str, ViewportSize] = {
    "desktop": {"width": 1280, "height": 800},
    "phone": {"width": 390, "height": 844},
}
TIME_ZONE = "Europe/Berlin"
# An identity provider the browser reaches only through Playwright's routing (the name never resolves).
AUTH_URL = "http://better-auth.invalid"
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def local_gateway(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """`make run`'s stack: both services trust the local key in one DATA_DIR; the builtin model."""
    data_dir = tmp_path_factory.mktemp("web-local-stack")
    task_port, gateway_port = free_port(), free_port()
    task_env = {"DATABASE_URL": database_url, "DATA_DIR": str(data_dir), "TASK_SERVER_PORT": str(task_port)}
    with run_service("mcp_task_server", task_env, task_port, data_dir / "task_server.log") as task_server:
        gateway_env = {
            "DATA_DIR": str(data_dir),
            "GATEWAY_PORT": str(gateway_port),
            "MCP_TASK_SERVER_URL": f"{task_server.base_url}/mcp",
            "AGENT_MODEL": "builtin",
            "RATE_LIMIT_PER_MINUTE": "10000",
        }
        with run_service("chat_gateway", gateway_env, gateway_port, data_dir / "gateway.log") as gateway:
            yield gateway


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_playwright()
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable)
        yield launched
        launched.close()


def test_dev_session_answers_only_a_local_browser(local_gateway: Service, http: httpx2.Client) -> None:
    url = f"{local_gateway.base_url}/dev/session"
    signed_in = http.post(url)
    assert signed_in.status_code == 200
    assert signed_in.json()["user_id"] == "demo-user"
    # A proxy on this machine forwarding another machine's request: uvicorn trusts X-Forwarded-For from
    # loopback, so the client is that other machine.
    forwarded = http.post(url, headers={"X-Forwarded-For": "203.0.113.9"})
    # A page whose domain was re-pointed at 127.0.0.1, and a page of another origin.
    rebound = http.post(url, headers={"Host": "evil.example"})
    cross_origin = http.post(url, headers={"Origin": "https://evil.example"})
    for refused in (forwarded, rebound, cross_origin):
        assert refused.status_code == 404
        assert refused.json() == {"error": {"code": "not_found", "message": "Not Found"}}
    assert http.get(f"{local_gateway.base_url}/web/config").json()["auth"] == "local"


class Steps:
    """The page at one viewport, with what it sent and any error it logged."""

    def __init__(self, page: Page, viewport: str, output: Path) -> None:
        self.page = page
        self.viewport = viewport
        self.output = output
        self.sent: list[dict[str, Any]] = []
        self.problems: list[str] = []
        self.shots = 0
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(str(error)))
        page.on("request", self._record)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(message.text)

    def _record(self, request: Request) -> None:
        if request.url.endswith("/chat/stream"):
            body = request.post_data_json
            if isinstance(body, dict):
                self.sent.append(body)
            else:
                self.problems.append(f"a chat turn was sent as {body!r}")

    def unexpected_problems(self, *statuses: int) -> list[str]:
        """What the page logged, less Chromium's line for each response of an expected status."""
        expected = [f"the server responded with a status of {status}" for status in statuses]
        return [problem for problem in self.problems if not any(text in problem for text in expected)]

    @property
    def phone(self) -> bool:
        return self.viewport == "phone"

    @property
    def box(self) -> Locator:
        return self.page.get_by_role("textbox", name="Message")

    @property
    def reply(self) -> Locator:
        return self.page.locator("#messages .message.assistant").last.locator(".text")

    def say(self, text: str) -> None:
        self.box.fill(text)
        self.box.press("Enter")

    def tasks(self) -> Locator:
        if self.phone and self.page.locator("#tasks-toggle").get_attribute("aria-expanded") == "false":
            self.page.get_by_role("button", name="Show tasks").click()
        return self.page.locator("#tasks .task .title")

    def shot(self, name: str) -> None:
        self.shots += 1
        path = self.output / f"{self.viewport}-{self.shots:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)


@pytest.mark.timeout(300)  # Room for installing Chromium on a fresh machine; the scenario takes seconds.
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_first_minutes_in_the_browser(
    browser: Browser, local_gateway: Service, clean_db: str, viewport: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    started = time.monotonic()
    expect.set_options(timeout=15_000)
    context = browser.new_context(viewport=VIEWPORTS[viewport], timezone_id=TIME_ZONE, locale="en-US")
    page = context.new_page()
    steps = Steps(page, viewport, tmp_path)
    box = steps.box

    # The page signs in as the demo user by itself and is ready to type into.
    page.goto(f"{local_gateway.base_url}/")
    expect(page.get_by_text("Signed in as demo-user")).to_be_visible()
    expect(box).to_be_focused()
    expect(page.get_by_role("log", name="Messages")).to_have_attribute("aria-live", "polite")
    steps.shot("signed-in")

    # Shift+Enter is a new line; nothing is sent.
    box.fill("first line")
    box.press("Shift+Enter")
    box.press_sequentially("second")
    expect(box).to_have_value("first line\nsecond")
    assert steps.sent == []

    # A task by chat: the streamed reply, the tool call in brief, the task in the list, an undo offer.
    steps.say("add buy milk")
    expect(steps.reply).to_have_text("Added 'Buy milk' (task 1).")
    expect(page.locator("#messages .tool-call")).to_have_text(["✓ add_task · Buy milk"])
    expect(steps.tasks()).to_have_text(["Buy milk"])
    expect(page.get_by_role("button", name="Undo")).to_be_visible()
    expect(box).to_have_value("")
    assert steps.sent == [{"message": "add buy milk", "timezone": TIME_ZONE}]
    steps.shot("added")

    # A reload starts a new conversation; the first is listed and opens again.
    page.reload()
    expect(page.get_by_text("Signed in as demo-user")).to_be_visible()
    expect(page.locator("#messages .message")).to_have_count(0)
    if steps.phone:
        page.get_by_role("button", name="Show conversations").click()
    earlier = page.locator("#conversations").get_by_role("button", name=re.compile("add buy milk", re.I))
    expect(earlier).to_have_count(1)
    earlier.click()
    expect(page.locator("#messages .message .text")).to_have_text(
        ["add buy milk", "Added 'Buy milk' (task 1)."]
    )
    # Marked as the open one (on a phone the list folds away once a conversation is chosen).
    expect(page.locator("#conversations button[aria-current='true']")).to_have_text(
        re.compile("add buy milk")
    )
    expect(box).to_be_focused()
    steps.shot("reopened")

    # The conversation goes on.
    steps.say("add call mom")
    expect(steps.reply).to_have_text("Added 'Call mom' (task 2).")
    conversation_id = steps.sent[-1].get("conversation_id")
    assert isinstance(conversation_id, int)
    expect(steps.tasks()).to_have_text(["Buy milk", "Call mom"])
    expect(page.locator("#conversations li")).to_have_count(1)

    # A bulk delete is previewed; the button confirms it.
    steps.say("delete all my tasks")
    expect(steps.reply).to_contain_text("This will move 2 tasks to the trash")
    yes = page.get_by_role("button", name="Yes, go ahead")
    expect(yes).to_be_visible()
    expect(page.get_by_role("button", name="No, leave them")).to_be_visible()
    expect(steps.tasks()).to_have_count(2)
    steps.shot("confirm")
    yes.click()
    expect(steps.reply).to_contain_text("Moved 2 tasks to the trash")
    expect(page.locator("#tasks .task")).to_have_count(0)
    expect(page.locator("#tasks-status")).to_have_text("No tasks yet.")
    expect(box).to_be_focused()
    steps.shot("deleted")

    # And the next one takes it back.
    page.get_by_role("button", name="Undo").click()
    expect(steps.reply).to_contain_text("Restored 2 tasks")
    expect(steps.tasks()).to_have_text(["Buy milk", "Call mom"])
    expect(page.get_by_role("button", name="Undo")).to_have_count(0)
    expect(page.get_by_role("log", name="Messages")).to_have_attribute("aria-busy", "false")
    steps.shot("undone")

    assert [body["message"] for body in steps.sent] == [
        "add buy milk",
        "add call mom",
        "delete all my tasks",
        "yes",
        "undo",
    ]
    assert all(body.get("conversation_id") == conversation_id for body in steps.sent[1:])
    assert all(body["timezone"] == TIME_ZONE for body in steps.sent)
    # Nothing wider than the screen, and nothing the page complained about (CSP violations included).
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[viewport]["width"]
    assert steps.problems == []
    context.close()
    print(f"{viewport}: {time.monotonic() - started:.1f} s; screenshots in {tmp_path}")


def test_with_an_identity_provider_the_page_takes_a_pasted_token(
    browser: Browser, gateway: Service, clean_db: str, tmp_path: Path
) -> None:
    """AUTH_JWKS_URL set and no WEB_AUTH_URL: the page says how to get a token and takes a pasted one."""
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    steps = Steps(page, "token", tmp_path)
    page.goto(f"{gateway.base_url}/")
    token_box = page.get_by_role("textbox", name="Access token (JWT)")
    expect(token_box).to_be_focused()
    expect(page.get_by_text("GET /api/auth/token")).to_be_visible()
    use = page.get_by_role("button", name="Use this token")

    token_box.fill("not a token")
    use.click()
    expect(page.get_by_role("status").filter(has_text="does not look like a JWT")).to_be_visible()
    # Expired: the gateway refuses it on the first request and the page asks again.
    token_box.fill(user_token("paste-user", exp_in=-60))
    use.click()
    expect(page.get_by_text("The token was rejected")).to_be_visible()
    expect(token_box).to_be_visible()

    token_box.fill(user_token("paste-user"))
    use.click()
    expect(page.get_by_text("Signed in as paste-user")).to_be_visible()
    expect(page.locator("#tasks-status")).to_have_text("No tasks yet.")
    steps.say('call add_task {"title": "Pasted"}')
    expect(steps.reply).to_contain_text("done:")
    expect(steps.tasks()).to_have_text(["Pasted"])
    # The token is kept for this tab: a reload stays signed in.
    page.reload()
    expect(page.get_by_text("Signed in as paste-user")).to_be_visible()
    steps.shot("token-signed-in")
    page.get_by_role("button", name="Sign out").click()
    expect(token_box).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    # Chromium logs each refused request: the expired token's and the wrong password's.
    assert steps.unexpected_problems(401) == []
    context.close()


def test_with_web_auth_url_the_page_signs_in_with_email_and_password(
    browser: Browser, start_gateway: StartGateway, clean_db: str, tmp_path: Path
) -> None:
    """WEB_AUTH_URL set: email and password to Better Auth, its session for a JWT, the JWT to the gateway.
    Better Auth itself is played by Playwright's routing, answering as its bearer and jwt plugins do."""
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    calls: list[str] = []

    with start_gateway(WEB_AUTH_URL=AUTH_URL) as gateway:

        def better_auth(route: Route) -> None:
            request = route.request
            path = request.url.removeprefix(AUTH_URL)
            cors = {
                "Access-Control-Allow-Origin": gateway.base_url,
                "Access-Control-Allow-Methods": "GET, POST",
                "Access-Control-Allow-Headers": "authorization, content-type",
                "Access-Control-Expose-Headers": "set-auth-token",
            }
            calls.append(f"{request.method} {path}")
            if request.method == "OPTIONS":
                route.fulfill(status=204, headers=cors)
            elif path == "/api/auth/sign-in/email":
                body = request.post_data_json or {}
                if body.get("password") != PASSWORD:
                    error = {"code": "INVALID_EMAIL_OR_PASSWORD", "message": "Invalid email or password"}
                    route.fulfill(status=401, json=error, headers=cors)
                else:
                    user = {"user": {"id": "web-user", "email": body.get("email")}}
                    route.fulfill(json=user, headers={**cors, "set-auth-token": "session-web-user"})
            elif (
                path == "/api/auth/token"
                and request.headers.get("authorization") == "Bearer session-web-user"
            ):
                route.fulfill(json={"token": user_token("web-user")}, headers=cors)
            elif path == "/api/auth/sign-out":
                route.fulfill(json={"success": True}, headers=cors)
            else:
                route.fulfill(status=401, json={"message": "Unauthorized"}, headers=cors)

        context = browser.new_context(viewport=VIEWPORTS["phone"])
        context.route(f"{AUTH_URL}/**", better_auth)
        page = context.new_page()
        steps = Steps(page, "phone", tmp_path)
        page.goto(f"{gateway.base_url}/")
        email = page.get_by_role("textbox", name="Email")
        expect(email).to_be_focused()
        email.fill("web@example.com")
        page.get_by_label("Password").fill("wrong")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Invalid email or password")).to_be_visible()

        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Signed in as web-user")).to_be_visible()
        steps.say('call add_task {"title": "Signed in on the web"}')
        expect(steps.tasks()).to_have_text(["Signed in on the web"])
        steps.shot("better-auth-signed-in")
        page.get_by_role("button", name="Sign out").click()
        expect(email).to_be_visible()
        assert "POST /api/auth/sign-out" in calls
        assert [call for call in calls if not call.startswith("OPTIONS")][:3] == [
            "POST /api/auth/sign-in/email",
            "POST /api/auth/sign-in/email",
            "GET /api/auth/token",
        ]
        # Chromium logs each refused request: the expired token's and the wrong password's.
        assert steps.unexpected_problems(401) == []
        context.close()
