// The web chat page: sign in, chat with streamed replies, the task list beside it, past conversations.
// Text from the server is only ever set as textContent, never parsed as HTML.

import { ApiError, Session, SignedOut, loadConfig, readEvents } from "./api.js";

const $ = (id) => document.getElementById(id);
const el = Object.fromEntries(
  [
    "loading", "sign-in", "sign-in-status", "password-form", "email", "password", "token-form", "token",
    "app", "who", "sign-out", "conversations-panel", "conversations-toggle", "new-conversation",
    "conversations", "more-conversations", "earlier-messages", "messages", "error", "suggestions",
    "composer", "message", "send", "tasks-panel", "tasks-toggle", "task-count", "task-filter",
    "tasks-status", "tasks", "more-tasks",
  ].map((id) => [id.replace(/-(\w)/g, (_, c) => c.toUpperCase()), $(id)]),
);

// What a suggested reply's button says; the message sent is the suggestion itself.
const SUGGESTION_LABELS = { yes: "Yes, go ahead", no: "No, leave them", undo: "Undo" };
const TASK_PAGE = 100;
const MESSAGE_PAGE = 50;
const CONVERSATION_PAGE = 20;

const state = {
  session: null,
  conversationId: null,
  busy: false,
  timezone: browserTimeZone(),
  sendTimeZone: true,
  messagesCursor: null,
  conversationsCursor: null,
  tasksCursor: null,
};

function browserTimeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || null;
  } catch {
    return null;
  }
}

function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function node(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

function messageOf(error) {
  if (error instanceof ApiError) {
    const wait = error.retryAfter ? ` (try again in ${plural(error.retryAfter, "second")})` : "";
    return `${error.message}${wait}`;
  }
  if (error instanceof TypeError) return "Could not reach the chat service. Check that it is running.";
  return error?.message || "Something went wrong.";
}

// --- Sign-in ---------------------------------------------------------------------------------------

function showSignIn(message, form) {
  el.loading.hidden = true;
  el.app.hidden = true;
  el.who.hidden = true;
  el.signOut.hidden = true;
  el.signIn.hidden = false;
  el.signInStatus.textContent = message;
  el.passwordForm.hidden = form !== "password";
  el.tokenForm.hidden = form !== "token";
  (form === "password" ? el.email : el.token).focus();
}

function signInForm() {
  return state.session.mode === "better_auth" ? "password" : "token";
}

function signedOut(message) {
  if (state.session.mode === "local") {
    showSignIn(`Could not sign in as the demo user: ${message}`, "token");
  } else {
    showSignIn(`${message} Sign in again.`, signInForm());
  }
}

async function enterApp() {
  const { session } = state;
  el.loading.hidden = true;
  el.signIn.hidden = true;
  el.app.hidden = false;
  el.who.hidden = false;
  el.who.textContent =
    session.mode === "local"
      ? `Signed in as ${session.userId} (local development)`
      : `Signed in as ${session.userId}`;
  el.signOut.hidden = session.mode === "local";
  newConversation();
  await Promise.all([refreshConversations(), refreshTasks()]);
}

// --- Conversations ---------------------------------------------------------------------------------

function newConversation() {
  state.conversationId = null;
  state.messagesCursor = null;
  el.messages.replaceChildren();
  el.earlierMessages.hidden = true;
  clearError();
  showSuggestions([]);
  markCurrentConversation();
  el.message.focus();
}

function setConversation(id) {
  if (id && id !== state.conversationId) {
    state.conversationId = id;
    markCurrentConversation();
  }
}

function markCurrentConversation() {
  for (const button of el.conversations.querySelectorAll("button")) {
    const current = Number(button.dataset.id) === state.conversationId;
    if (current) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
}

function conversationItem(conversation) {
  const button = node("button");
  button.type = "button";
  button.dataset.id = String(conversation.id);
  button.append(
    node("span", "title", conversation.title || `Conversation ${conversation.id}`),
    node("span", "when", new Date(conversation.updated_at).toLocaleString()),
  );
  button.addEventListener("click", () => openConversation(conversation.id));
  const item = node("li");
  item.append(button);
  return item;
}

async function refreshConversations(more = false) {
  try {
    const cursor = more && state.conversationsCursor ? `&cursor=${encodeURIComponent(state.conversationsCursor)}` : "";
    const page = await state.session.getJson(`/conversations?limit=${CONVERSATION_PAGE}${cursor}`);
    const items = page.conversations.map(conversationItem);
    if (more) el.conversations.append(...items);
    else el.conversations.replaceChildren(...items);
    state.conversationsCursor = page.next_cursor;
    el.moreConversations.hidden = !page.next_cursor;
    markCurrentConversation();
  } catch (error) {
    handle(error);
  }
}

async function openConversation(id) {
  if (state.busy) return;
  newConversation();
  state.conversationId = id;
  markCurrentConversation();
  setPanel(el.conversationsPanel, el.conversationsToggle, false);
  try {
    const page = await state.session.getJson(`/conversations/${id}/messages?limit=${MESSAGE_PAGE}`);
    el.messages.replaceChildren(...page.messages.map(storedMessage));
    state.messagesCursor = page.next_cursor;
    el.earlierMessages.hidden = !page.next_cursor;
    scrollToEnd();
  } catch (error) {
    handle(error);
  }
  el.message.focus();
}

async function earlierMessages() {
  if (!state.conversationId || !state.messagesCursor) return;
  try {
    const cursor = encodeURIComponent(state.messagesCursor);
    const page = await state.session.getJson(
      `/conversations/${state.conversationId}/messages?limit=${MESSAGE_PAGE}&cursor=${cursor}`,
    );
    const height = el.messages.scrollHeight;
    el.messages.prepend(...page.messages.map(storedMessage));
    el.messages.scrollTop += el.messages.scrollHeight - height;
    state.messagesCursor = page.next_cursor;
    el.earlierMessages.hidden = !page.next_cursor;
  } catch (error) {
    handle(error);
  }
}

// --- Messages --------------------------------------------------------------------------------------

function messageItem(role) {
  const item = node("li", `message ${role}`);
  const tools = node("ul", "tool-calls");
  tools.hidden = true;
  const text = node("span", "text");
  item.append(node("span", "speaker", role === "user" ? "You" : "Assistant"), tools, text);
  return { item, tools, text, calls: new Map() };
}

function storedMessage(message) {
  const view = messageItem(message.role);
  for (const call of message.tool_calls ?? []) {
    addToolCall(view, { name: call.name, arguments: call.arguments });
    settleToolCall(view.tools.lastChild, call.name, call.arguments, call.result, call.is_error);
  }
  view.text.textContent = message.content;
  return view.item;
}

function appendMessage(role, text) {
  const view = messageItem(role);
  view.text.textContent = text;
  el.messages.append(view.item);
  scrollToEnd();
  return view;
}

function scrollToEnd() {
  el.messages.scrollTop = el.messages.scrollHeight;
}

/** What a tool call was about, in a few words: the task's title, a count, or the task's id. */
function callDetail(name, args, result) {
  const a = args && typeof args === "object" ? args : {};
  const r = result && typeof result === "object" ? result : {};
  if (r.status === "confirmation_required") return `${plural(r.count, "task")}, waiting for your answer`;
  if (typeof r.count === "number") return plural(r.count, "task");
  if (Array.isArray(r.tasks)) return plural(r.tasks.length, "task");
  if (typeof a.title === "string") return a.title;
  if (typeof r.title === "string") return r.title;
  if (a.task_id !== undefined) return `task ${a.task_id}`;
  if (Array.isArray(a.task_ids)) return plural(a.task_ids.length, "task");
  if (typeof a.status === "string") return a.status;
  return "";
}

function callLabel(mark, name, detail) {
  return `${mark} ${name}${detail ? ` · ${detail}` : ""}`;
}

function addToolCall(view, call) {
  const line = node("li", "tool-call pending", callLabel("…", call.name, callDetail(call.name, call.arguments)));
  line.dataset.name = call.name;
  view.tools.hidden = false;
  view.tools.append(line);
  if (call.call_id) view.calls.set(call.call_id, { line, arguments: call.arguments });
  scrollToEnd();
}

function settleToolCall(line, name, args, result, isError) {
  line.classList.remove("pending");
  line.classList.add(isError ? "failed" : "ok");
  if (isError) {
    const reason = String(result ?? "failed").split("\n")[0].slice(0, 160);
    line.textContent = callLabel("✗", name, reason);
    line.title = "This call failed";
  } else {
    line.textContent = callLabel("✓", name, callDetail(name, args, result));
  }
}

function onToolResult(view, data) {
  const known = view.calls.get(data.call_id);
  const line = known?.line ?? view.tools.querySelector(".tool-call.pending");
  if (line) settleToolCall(line, data.name || line.dataset.name, known?.arguments, data.result, data.is_error);
}

// --- A turn ----------------------------------------------------------------------------------------

function setBusy(busy) {
  state.busy = busy;
  el.send.disabled = busy;
  el.send.textContent = busy ? "Sending…" : "Send";
  for (const button of el.suggestions.querySelectorAll("button")) button.disabled = busy;
}

function clearError() {
  el.error.hidden = true;
  el.error.textContent = "";
}

function showError(message) {
  el.error.textContent = message;
  el.error.hidden = false;
}

function showSuggestions(suggestions) {
  const buttons = suggestions
    .filter((text) => typeof text === "string" && text)
    .map((text) => {
      const button = node("button", text === "no" ? "quiet" : "", SUGGESTION_LABELS[text] ?? text);
      button.type = "button";
      button.dataset.suggestion = text;
      button.addEventListener("click", () => send(text));
      return button;
    });
  el.suggestions.replaceChildren(...buttons);
  el.suggestions.hidden = buttons.length === 0;
}

async function postTurn(text) {
  const body = { message: text };
  if (state.conversationId) body.conversation_id = state.conversationId;
  if (state.sendTimeZone && state.timezone) body.timezone = state.timezone;
  const post = () =>
    state.session.fetch("/chat/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(body),
    });
  let response = await post();
  if (response.status === 422 && body.timezone) {
    // A zone name this server does not know: say the message without it rather than not at all.
    const error = await ApiError.from(response.clone());
    if (error.message.includes("timezone")) {
      state.sendTimeZone = false;
      delete body.timezone;
      response = await post();
    }
  }
  return response;
}

async function send(raw) {
  const text = raw.trim();
  if (!text || state.busy) return;
  // Typed (not a suggestion): the box empties now and gets the text back if the turn never started.
  const fromBox = raw === el.message.value;
  if (fromBox) el.message.value = "";
  setBusy(true);
  clearError();
  showSuggestions([]);
  appendMessage("user", text);
  const reply = appendMessage("assistant", "");
  el.messages.setAttribute("aria-busy", "true");
  let finished = false;
  let started = false;
  try {
    const response = await postTurn(text);
    if (!response.ok) throw await ApiError.from(response);
    for await (const { event, data } of readEvents(response)) {
      if (event === "start") {
        started = true;
        setConversation(data.conversation_id);
      } else if (event === "delta") {
        reply.text.textContent += data.text;
        scrollToEnd();
      } else if (event === "tool_call") {
        addToolCall(reply, data);
      } else if (event === "tool_result") {
        onToolResult(reply, data);
      } else if (event === "done") {
        finished = true;
        reply.text.textContent = data.response;
        showSuggestions(Array.isArray(data.suggestions) ? data.suggestions : []);
      } else if (event === "error") {
        const error = data.error ?? {};
        throw new ApiError(0, error.code ?? "error", error.message ?? "The turn failed.", {
          conversationId: data.conversation_id ?? null,
        });
      }
    }
    if (!finished) {
      throw new Error("The connection closed before the reply was complete. Open the conversation again to see what was saved.");
    }
  } catch (error) {
    if (error instanceof ApiError && error.conversationId) setConversation(error.conversationId);
    reply.item.classList.add("failed");
    if (!reply.text.textContent) reply.text.textContent = "No reply.";
    if (fromBox && !started && !el.message.value) el.message.value = raw;
    handle(error);
  } finally {
    el.messages.setAttribute("aria-busy", "false");
    setBusy(false);
    scrollToEnd();
    if (!el.app.hidden) {
      if (document.activeElement === document.body || document.activeElement === null) el.message.focus();
      await Promise.all([refreshTasks(), refreshConversations()]);
    }
  }
}

function handle(error) {
  if (error instanceof SignedOut) {
    signedOut(error.message);
    return;
  }
  showError(messageOf(error));
}

// --- Tasks -----------------------------------------------------------------------------------------

function dueText(due) {
  if (!due) return "";
  if (due.is_recurring) return due.string;
  if (due.datetime) {
    return new Date(due.datetime).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  }
  return new Date(`${due.date}T00:00:00`).toLocaleDateString([], { dateStyle: "medium" });
}

function taskItem(task) {
  const item = node("li", `task${task.completed ? " done" : ""}`);
  item.dataset.id = String(task.id);
  const body = node("span", "body");
  const title = node("span", "title", task.title);
  const details = [task.completed ? "done" : "", dueText(task.due) && `due ${dueText(task.due)}`,
    task.priority && task.priority !== "none" ? `${task.priority} priority` : "",
    ...(task.tags ?? []).map((tag) => `#${tag}`), `task ${task.id}`].filter(Boolean);
  body.append(title, node("span", "details", details.join(" · ")));
  const mark = node("span", "mark", task.completed ? "✓" : "○");
  mark.setAttribute("aria-hidden", "true");
  item.append(mark, body);
  return item;
}

async function refreshTasks(more = false) {
  try {
    const status = el.taskFilter.value;
    const cursor = more && state.tasksCursor ? `&cursor=${encodeURIComponent(state.tasksCursor)}` : "";
    const page = await state.session.getJson(`/tasks?status=${status}&limit=${TASK_PAGE}${cursor}`);
    const items = page.tasks.map(taskItem);
    if (more) el.tasks.append(...items);
    else el.tasks.replaceChildren(...items);
    state.tasksCursor = page.next_cursor;
    el.moreTasks.hidden = !page.next_cursor;
    const shown = el.tasks.children.length;
    el.taskCount.textContent = `(${shown}${page.next_cursor ? "+" : ""})`;
    el.tasksStatus.textContent = shown === 0 ? (status === "all" ? "No tasks yet." : `No ${status} tasks.`) : "";
  } catch (error) {
    handle(error);
  }
}

// --- Panels on a narrow screen ---------------------------------------------------------------------

function setPanel(panel, toggle, open) {
  panel.classList.toggle("open", open);
  toggle.setAttribute("aria-expanded", String(open));
  toggle.textContent = open ? "Hide" : "Show";
  toggle.setAttribute("aria-label", `${open ? "Hide" : "Show"} ${toggle.dataset.what}`);
}

function wirePanel(panel, toggle, what) {
  toggle.dataset.what = what;
  setPanel(panel, toggle, false);
  toggle.addEventListener("click", () => setPanel(panel, toggle, !panel.classList.contains("open")));
}

// --- Start -----------------------------------------------------------------------------------------

function wire() {
  el.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    send(el.message.value);
  });
  el.message.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send(el.message.value);
    }
  });
  el.newConversation.addEventListener("click", () => {
    if (!state.busy) {
      newConversation();
      setPanel(el.conversationsPanel, el.conversationsToggle, false);
    }
  });
  el.moreConversations.addEventListener("click", () => refreshConversations(true));
  el.earlierMessages.addEventListener("click", earlierMessages);
  el.taskFilter.addEventListener("change", () => refreshTasks());
  el.moreTasks.addEventListener("click", () => refreshTasks(true));
  wirePanel(el.conversationsPanel, el.conversationsToggle, "conversations");
  wirePanel(el.tasksPanel, el.tasksToggle, "tasks");
  el.signOut.addEventListener("click", async () => {
    await state.session.signOut();
    showSignIn("Signed out.", signInForm());
  });
  el.passwordForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    el.signInStatus.textContent = "Signing in…";
    try {
      await state.session.signInWithPassword(el.email.value, el.password.value);
      el.password.value = "";
      await enterApp();
    } catch (error) {
      el.signInStatus.textContent = messageOf(error);
    }
  });
  el.tokenForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      state.session.useToken(el.token.value.trim());
      el.token.value = "";
      await enterApp();
    } catch (error) {
      el.signInStatus.textContent = messageOf(error);
    }
  });
}

async function main() {
  wire();
  let config;
  try {
    config = await loadConfig();
  } catch (error) {
    el.loading.textContent = `The page could not start: ${messageOf(error)}`;
    return;
  }
  state.session = new Session(config);
  if (Number.isInteger(config.message_max_chars)) el.message.maxLength = config.message_max_chars;
  if (state.session.restore()) {
    await enterApp();
    return;
  }
  if (config.auth === "local") {
    try {
      await state.session.signInLocal();
    } catch (error) {
      showSignIn(`Could not sign in as the demo user: ${messageOf(error)}`, "token");
      return;
    }
    await enterApp();
    return;
  }
  showSignIn("", signInForm());
}

main();
