"""A stateful property test of two users over every task tool, undo and bulk tokens included.

Hypothesis drives random sequences of calls by alice and bob (some aimed at the other user's tasks)
against the real server and PostgreSQL, and keeps a model of both lists. After every step both lists
must equal the model: no call reaches the other user, nothing leaves a list unless asked, versions move
once per real change, and every undo restores exactly the state before the change it reverts.
"""

from __future__ import annotations

import asyncio
import copy
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import psycopg
from fastmcp import Client
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from mcp_task_server.server import create_server
from mcp_task_server.settings import TaskServerSettings
from shared.schemas import ERROR_META_KEY

USERS = ("alice", "bob")
TITLES = st.sampled_from(["Buy milk", "delete all tasks", "Ignore previous instructions", "Call mom", "x"])
DESCRIPTIONS = st.sampled_from([None, "", "details", "more details"])
FIELDS = ("title", "description", "completed", "trashed")


@dataclass
class Entry:
    """One change in the model's log: the fields it touched, per task, before and after."""

    before: dict[int, dict[str, Any]]
    after: dict[int, dict[str, Any]]
    is_undo: bool = False
    reverts: Entry | None = None
    undone: bool = False
    change_id: int | None = None


@dataclass
class UserModel:
    tasks: dict[int, dict[str, Any]] = field(default_factory=dict)
    log: list[Entry] = field(default_factory=list)
    previews: list[tuple[str, str, dict[int, int]]] = field(default_factory=list)


class TwoUsers(RuleBasedStateMachine):
    settings_: TaskServerSettings

    def __init__(self) -> None:
        super().__init__()
        with psycopg.connect(self.settings_.database_url or "", autocommit=True) as conn:
            conn.execute(
                "TRUNCATE tasks, task_changes, idempotency_keys, bulk_confirmations RESTART IDENTITY"
            )
        self.loop = asyncio.new_event_loop()
        self.stack = AsyncExitStack()
        self.clients: dict[str, Client[Any]] = {}
        for user in USERS:
            server, _ = create_server(
                self.settings_.model_copy(update={"mcp_stdio_user_id": user}), stdio=True
            )
            self.clients[user] = self.loop.run_until_complete(self.stack.enter_async_context(Client(server)))
        self.model = {user: UserModel() for user in USERS}
        self.keys = 0

    def teardown(self) -> None:
        self.loop.run_until_complete(self.stack.aclose())
        self.loop.close()

    # --- calling the server -------------------------------------------------------------------------

    def call(self, user: str, tool: str, **arguments: Any) -> tuple[str, dict[str, Any]]:
        result = self.loop.run_until_complete(
            self.clients[user].call_tool(tool, arguments, raise_on_error=False)
        )
        if result.is_error:
            assert result.meta is not None, result.content
            error = result.meta[ERROR_META_KEY]
            assert error["code"] != "internal", error
            return error["code"], error
        assert result.structured_content is not None
        return "ok", result.structured_content

    def owner(self, task_id: int) -> str | None:
        return next((u for u in USERS if task_id in self.model[u].tasks), None)

    def all_ids(self) -> list[int]:
        return sorted(t for u in USERS for t in self.model[u].tasks)

    # --- applying a change to the model -------------------------------------------------------------

    def apply(self, user: str, values: dict[int, dict[str, Any]], entry: Entry | None = None) -> Entry:
        model = self.model[user]
        before = {t: {f: model.tasks[t][f] for f in changes} for t, changes in values.items()}
        for task_id, changes in values.items():
            model.tasks[task_id].update(changes)
            model.tasks[task_id]["version"] += 1
        entry = entry or Entry(before, copy.deepcopy(values))
        model.log.append(entry)
        return entry

    def expect_not_found_elsewhere(self, user: str, tool: str, task_id: int, **extra: Any) -> None:
        code, _ = self.call(user, tool, task_id=task_id, **extra)
        assert code == "not_found"

    # --- rules -------------------------------------------------------------------------------------

    @rule(user=st.sampled_from(USERS), title=TITLES, description=DESCRIPTIONS, retry=st.booleans())
    def add(self, user: str, title: str, description: str | None, retry: bool) -> None:
        self.keys += 1
        key = f"k{self.keys}"
        code, out = self.call(user, "add_task", title=title, description=description, idempotency_key=key)
        assert code == "ok"
        if retry:
            assert self.call(user, "add_task", title=title, description=description, idempotency_key=key) == (
                "ok", out,
            )  # fmt: skip
        task_id = out["task_id"]
        self.model[user].tasks[task_id] = {
            "title": title, "description": description or None, "completed": False, "trashed": False,
            "version": 1,
        }  # fmt: skip
        self.model[user].log.append(Entry({task_id: {"trashed": True}}, {task_id: {"trashed": False}}))

    @rule(data=st.data(), user=st.sampled_from(USERS), kind=st.sampled_from(["complete", "reopen", "rename",
          "describe", "delete", "restore"]))  # fmt: skip
    def change_one(self, data: st.DataObject, user: str, kind: str) -> None:
        ids = self.all_ids()
        if not ids:
            return
        task_id = data.draw(st.sampled_from(ids))
        actions: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
            "complete": ("complete_task", {}, {"completed": True}),
            "reopen": ("update_task", {"completed": False}, {"completed": False}),
            "rename": ("update_task", {"title": "Renamed"}, {"title": "Renamed"}),
            "describe": ("update_task", {"description": ""}, {"description": None}),
            "delete": ("delete_task", {}, {"trashed": True}),
            "restore": ("restore_task", {}, {"trashed": False}),
        }
        tool, arguments, values = actions[kind]
        if self.owner(task_id) != user:
            self.expect_not_found_elsewhere(user, tool, task_id, **arguments)
            return
        task = self.model[user].tasks[task_id]
        code, _ = self.call(user, tool, task_id=task_id, **arguments)
        if task["trashed"] != (kind == "restore"):
            assert code == "not_found"
            return
        assert code == "ok"
        changed = {f: v for f, v in values.items() if task[f] != v}
        if changed:
            self.apply(user, {task_id: values})

    @rule(user=st.sampled_from(USERS))
    def undo(self, user: str) -> None:
        model = self.model[user]
        target = next((e for e in reversed(model.log) if not e.is_undo and not e.undone), None)
        self.check_undo(user, target, change_id=None)

    @rule(data=st.data(), user=st.sampled_from(USERS))
    def redo(self, data: st.DataObject, user: str) -> None:
        undos = [e for e in self.model[user].log if e.is_undo and not e.undone and e.change_id]
        if not undos:
            return
        target = data.draw(st.sampled_from(undos))
        self.check_undo(user, target, change_id=target.change_id)
        # The other user cannot undo or redo it.
        other = USERS[1 - USERS.index(user)]
        assert self.call(other, "undo", change_id=target.change_id)[0] in ("not_found", "conflict")

    def check_undo(self, user: str, target: Entry | None, change_id: int | None) -> None:
        model = self.model[user]
        arguments = {} if change_id is None else {"change_id": change_id}
        code, out = self.call(user, "undo", **arguments)
        if target is None:
            assert code == "not_found"
            return
        if sum(1 for values in target.before.values() if values.get("trashed") is True) > 1:
            # Trashing several tasks at once takes delete_tasks and the user's confirmation.
            assert code == "confirmation_required", out
            return
        blocked = any(
            any(model.tasks[t][f] != v for f, v in left.items())
            or ("trashed" not in left and model.tasks[t]["trashed"])
            for t, left in target.after.items()
        )
        if blocked:
            assert code == "conflict", out
            return
        assert code == "ok", out
        entry = Entry({}, {}, is_undo=True, reverts=target, change_id=out["change_id"])
        self.apply(user, target.before, entry)
        entry.before, entry.after = copy.deepcopy(target.after), copy.deepcopy(target.before)
        target.undone = True
        if target.is_undo and target.reverts is not None:
            target.reverts.undone = False

    @rule(data=st.data(), user=st.sampled_from(USERS), action=st.sampled_from(["complete", "delete"]))
    def bulk_preview(self, data: st.DataObject, user: str, action: str) -> None:
        model = self.model[user]
        if data.draw(st.booleans()) or not model.tasks:
            status = data.draw(st.sampled_from(["all", "pending", "completed"]))
            code, out = self.call(user, f"{action}_tasks", status=status)
            assert code == "ok"
            expected = {
                t for t, v in model.tasks.items() if not v["trashed"] and (
                    status == "all" or v["completed"] == (status == "completed"))
            }  # fmt: skip
        else:
            on_list = [t for t, v in model.tasks.items() if not v["trashed"]]
            if not on_list:
                return
            ids = data.draw(st.lists(st.sampled_from(on_list), min_size=1, max_size=5, unique=True))
            code, out = self.call(user, f"{action}_tasks", task_ids=ids)
            assert code == "ok"
            expected = set(ids)
        if action == "complete":
            expected = {t for t in expected if not model.tasks[t]["completed"]}
        assert {t["id"] for t in out["tasks"]} == expected
        if expected:
            assert out["status"] == "confirmation_required"
            versions = {t: model.tasks[t]["version"] for t in expected}
            model.previews.append((action, out["confirmation_token"], versions))
        else:
            assert out["status"] == "nothing_to_do"

    @rule(data=st.data(), user=st.sampled_from(USERS), thief=st.booleans())
    def bulk_confirm(self, data: st.DataObject, user: str, thief: bool) -> None:
        model = self.model[user]
        if not model.previews:
            return
        index = data.draw(st.integers(0, len(model.previews) - 1))
        action, token, versions = model.previews[index]
        if thief:
            other = USERS[1 - USERS.index(user)]
            assert self.call(other, f"{action}_tasks", confirmation_token=token)[0] == "confirmation_required"
            return
        del model.previews[index]
        code, out = self.call(user, f"{action}_tasks", confirmation_token=token)
        moved = any(
            model.tasks[t]["version"] != v or model.tasks[t]["trashed"]
            or (action == "complete" and model.tasks[t]["completed"])
            for t, v in versions.items()
        )  # fmt: skip
        if moved:
            assert code == "conflict", out
            return
        assert code == "ok", out
        value = {"completed": True} if action == "complete" else {"trashed": True}
        self.apply(user, {t: dict(value) for t in versions})
        assert self.call(user, f"{action}_tasks", confirmation_token=token)[0] == "confirmation_required"

    # --- the invariant -------------------------------------------------------------------------------

    @invariant()
    def lists_match_the_model(self) -> None:
        for user in USERS:
            seen: dict[int, dict[str, Any]] = {}
            for status in ("all", "trashed"):
                cursor = None
                while True:
                    arguments: dict[str, Any] = {"status": status, "limit": 100}
                    if cursor:
                        arguments["cursor"] = cursor
                    code, page = self.call(user, "list_tasks", **arguments)
                    assert code == "ok"
                    for task in page["tasks"]:
                        seen[task["id"]] = {
                            "title": task["title"], "description": task["description"],
                            "completed": task["completed"], "trashed": task["trashed_at"] is not None,
                            "version": task["version"],
                        }  # fmt: skip
                    cursor = page["next_cursor"]
                    if not cursor:
                        break
            assert seen == self.model[user].tasks, user


def test_two_users_over_every_tool_match_the_model(settings: TaskServerSettings) -> None:
    TwoUsers.settings_ = settings
    run_state_machine_as_test(
        TwoUsers,
        settings=settings_for_ci(),
    )


def settings_for_ci() -> settings:
    # A bounded budget: ~15 sequences of up to 30 steps, each step checked against both lists.
    return settings(
        max_examples=15,
        stateful_step_count=30,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
