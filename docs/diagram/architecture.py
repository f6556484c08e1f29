"""Draw docs/architecture.svg from the description below: boxes, and arrows between their sides.

    .venv/bin/python docs/diagram/architecture.py           # rewrite docs/architecture.svg
    .venv/bin/python docs/diagram/architecture.py --check   # exit 1 if the committed file is stale

Plain Python and the standard library: no Graphviz, no network, and the same bytes on every machine
(tests/test_architecture_diagram.py regenerates the file and compares). To change the picture, edit
BOXES and ARROWS, run the script, and commit both files; keep the README's alt text saying the same.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape

Side = Literal["top", "bottom", "left", "right"]
Kind = Literal["client", "service", "store", "optional"]


@dataclass(frozen=True)
class Box:
    key: str
    x: int
    y: int
    width: int
    height: int
    title: str
    lines: tuple[str, ...] = ()
    kind: Kind = "service"


@dataclass(frozen=True)
class Arrow:
    start: tuple[str, Side, float]  # box key, side, where along the side (0 = left/top, 1 = right/bottom)
    end: tuple[str, Side, float]
    label: tuple[str, ...] = ()
    label_at: tuple[int, int] = (0, 0)  # offset of the label from the arrow's middle
    anchor: Literal["start", "middle", "end"] = "middle"
    dashed: bool = False
    both_ways: bool = False


TITLE = "todo-chat: architecture"
WIDTH, HEIGHT = 1000, 550

# ---- The description ----------------------------------------------------------------------------------
BOXES = (
    Box("browser", 30, 30, 330, 74, "Browser, ChatKit, curl",
        ("the web page, /api/{user_id}/chat, /chatkit",), "client"),
    Box("identity", 390, 30, 220, 74, "Identity provider",
        ("Better Auth's JWKS, or a local", "development key in .data"), "optional"),
    Box("mcp_clients", 640, 30, 330, 74, "MCP clients",
        ("Claude Desktop, MCP Inspector, any agent",), "client"),
    Box("gateway", 30, 220, 330, 96, "chat_gateway",
        ("FastAPI, stateless: any replica, any request", "verifies the token, runs the agent",
         "and guards every tool call")),
    Box("task_server", 640, 220, 330, 96, "mcp_task_server",
        ("FastMCP: stateless HTTP, or stdio", "owns the data: tasks, conversations",
         "checks the token on every call")),
    Box("llm", 20, 436, 220, 90, "The model",
        ("builtin (offline, in process),", "or any OpenAI-compatible API"), "optional"),
    Box("redis", 270, 436, 180, 74, "Redis (optional)",
        ("RATE_LIMIT_STORAGE_URL",), "optional"),
    Box("postgres", 675, 436, 260, 74, "PostgreSQL",
        ("tasks, conversations, activity log",), "store"),
)  # fmt: skip

ARROWS = (
    Arrow(("browser", "bottom", 0.5), ("gateway", "top", 0.5),
          ("HTTPS with", "Authorization: Bearer JWT"), (-10, 0), "end"),
    Arrow(("mcp_clients", "bottom", 0.5), ("task_server", "top", 0.5),
          ("MCP over streamable HTTP", "with a Bearer JWT, or stdio"), (10, 0), "start"),
    Arrow(("gateway", "right", 0.5), ("task_server", "left", 0.5),
          ("MCP, streamable HTTP (one POST a call)", "carrying the user's own token"), (0, -12)),
    Arrow(("task_server", "bottom", 0.5), ("postgres", "top", 0.5), ("SQL (psycopg 3)",), (10, 4), "start"),
    Arrow(("gateway", "bottom", 0.303), ("llm", "top", 0.5), ("prompt and tools,", "tool calls back"),
          (8, 0), "start", both_ways=True),
    Arrow(("gateway", "bottom", 0.8), ("redis", "top", 0.5), ("shared per-user", "rate limit"), (10, 0),
          "start", dashed=True),
    Arrow(("gateway", "top", 0.85), ("identity", "left", 0.7), ("JWKS",), (8, 4), "start", dashed=True),
    Arrow(("task_server", "top", 0.15), ("identity", "right", 0.7), ("JWKS",), (-8, 4), "end", dashed=True),
)  # fmt: skip

DESCRIPTION = (
    "A browser (the web page or ChatKit) or curl calls chat_gateway over HTTPS with a Bearer JWT. MCP "
    "clients such as Claude Desktop and the MCP Inspector call mcp_task_server directly, over streamable "
    "HTTP with a Bearer JWT or over stdio. chat_gateway calls mcp_task_server over MCP (streamable HTTP), "
    "forwarding the user's own token; only mcp_task_server keeps the user's data, in PostgreSQL. Beside "
    "the gateway: the model (builtin, or any OpenAI-compatible API) and an optional Redis that shares the "
    "per-user rate limit between gateway replicas. Both services verify tokens against the identity "
    "provider's JWKS (Better Auth), or a local development key."
)

# ---- Rendering ----------------------------------------------------------------------------------------
STYLE = {
    "client": ("#eef4ff", "#3b6fd8"),
    "service": ("#fff7e6", "#c77c00"),
    "store": ("#eaf7ee", "#2f8f4e"),
    "optional": ("#f4f4f4", "#777777"),
}
FONT = "font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif"
LINE_HEIGHT = 15
OUTPUT = Path(__file__).resolve().parents[1] / "architecture.svg"


def point(boxes: dict[str, Box], end: tuple[str, Side, float]) -> tuple[float, float]:
    box = boxes[end[0]]
    side, along = end[1], end[2]
    if side == "top":
        return box.x + box.width * along, box.y
    if side == "bottom":
        return box.x + box.width * along, box.y + box.height
    if side == "left":
        return box.x, box.y + box.height * along
    return box.x + box.width, box.y + box.height * along


def text(x: float, y: float, line: str, *, size: int, anchor: str = "middle", weight: str = "normal") -> str:
    return (
        f'<text x="{x:g}" y="{y:g}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}">'
        f"{escape(line)}</text>"
    )


def estimated_width(line: str, size: int) -> float:
    """About how wide a line renders in a sans-serif font: enough to catch text that outgrows its box."""
    return len(line) * size * 0.56


def draw_box(box: Box) -> list[str]:
    for line, size in ((box.title, 15), *((line, 12) for line in box.lines)):
        if estimated_width(line, size) > box.width - 12:
            raise ValueError(f"{box.key}: {line!r} is too wide for its box ({box.width} px)")
    fill, stroke = STYLE[box.kind]
    dash = ' stroke-dasharray="6 4"' if box.kind == "optional" else ""
    middle = box.x + box.width / 2
    shown = (box.title, *box.lines)
    top = box.y + box.height / 2 - (len(shown) - 1) * LINE_HEIGHT / 2 + 5
    parts = [
        f'<rect x="{box.x}" y="{box.y}" width="{box.width}" height="{box.height}" rx="8" fill="{fill}" '
        f'stroke="{stroke}" stroke-width="1.5"{dash}/>',
        text(middle, top, box.title, size=15, weight="bold"),
    ]
    parts += [text(middle, top + (n + 1) * LINE_HEIGHT, line, size=12) for n, line in enumerate(box.lines)]
    return parts


def draw_arrow(boxes: dict[str, Box], arrow: Arrow) -> list[str]:
    (x1, y1), (x2, y2) = point(boxes, arrow.start), point(boxes, arrow.end)
    dash = ' stroke-dasharray="5 4"' if arrow.dashed else ""
    start_marker = ' marker-start="url(#tail)"' if arrow.both_ways else ""
    parts = [
        f'<line x1="{x1:g}" y1="{y1:g}" x2="{x2:g}" y2="{y2:g}" stroke="#444444" stroke-width="1.5"'
        f'{dash}{start_marker} marker-end="url(#head)"/>'
    ]
    lx, ly = (x1 + x2) / 2 + arrow.label_at[0], (y1 + y2) / 2 + arrow.label_at[1]
    for line in arrow.label:
        width = estimated_width(line, 12)
        left = {"start": lx, "middle": lx - width / 2, "end": lx - width}[arrow.anchor]
        if left < 0 or left + width > WIDTH:
            raise ValueError(f"the label {line!r} runs off the picture")
    top = ly - (len(arrow.label) - 1) * LINE_HEIGHT / 2
    parts += [
        text(lx, top + n * LINE_HEIGHT, line, size=12, anchor=arrow.anchor)
        for n, line in enumerate(arrow.label)
    ]
    return parts


def render() -> str:
    boxes = {box.key: box for box in BOXES}
    marker = '<path d="M0,0 L10,5 L0,10 z" fill="#444444"/>'
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="title desc">',
        f'<title id="title">{escape(TITLE)}</title>',
        f'<desc id="desc">{escape(DESCRIPTION)}</desc>',
        "<!-- Generated by docs/diagram/architecture.py: edit that file, not this one. -->",
        "<defs>",
        f'<marker id="head" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
        f'orient="auto-start-reverse">{marker}</marker>',
        f'<marker id="tail" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
        f'orient="auto-start-reverse">{marker}</marker>',
        "</defs>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<g style="{FONT}" fill="#1a1a1a">',
    ]
    for box in BOXES:
        lines += draw_box(box)
    for arrow in ARROWS:
        lines += draw_arrow(boxes, arrow)
    lines += ["</g>", "</svg>", ""]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    svg = render()
    if argv == ["--check"]:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != svg:
            print(f"{OUTPUT} is stale: run {Path(__file__).name} without --check", file=sys.stderr)
            return 1
        return 0
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    OUTPUT.write_text(svg, encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
