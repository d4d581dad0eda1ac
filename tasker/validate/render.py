"""The workflow as a picture (`--graph dot|mermaid`) or as text (`--show-plan`), SPEC I.4.

Both come from `graph.routing_graph`: tasks are nodes labelled `N: command
arguments` (shortened), edges carry the condition that takes them (`ID+1`,
`on_success`, `on_failure`, `next: exit_0`, `min_success=2`, ...), blocks are
clusters (DOT) or subgraphs (Mermaid) holding their sub-tasks, and the ends of
the run are two terminal nodes, "end" (success) and "failed". Values of secret
globals are masked (`****`) in every label, as in the logs.
"""

from __future__ import annotations

from typing import Dict, List, Optional

from tasker.report.masking import Masker, split_secret_vars
from tasker.syntax.ast import Task, TaskFile
from tasker.validate.graph import (
    DYNAMIC,
    END_OK,
    FLOW,
    SUB,
    Edge,
    Graph,
    routing_graph,
    seq_reached,
)

MAX_LABEL = 40


def _masker(tf: TaskFile) -> Masker:
    """Masks the values of secret globals (name patterns, SECRET_VARS=, the loader's list)."""
    listed = split_secret_vars(tf.globals["SECRET_VARS"].value) \
        if "SECRET_VARS" in tf.globals else ()
    return Masker.from_globals(tf.global_values, tuple(listed))


def _short(text: str, limit: int = MAX_LABEL) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def task_summary(t: Task) -> str:
    """What a task does, in a few words: its command, block kind or return value."""
    if t.kind in ("parallel", "conditional", "decision"):
        what: str = t.kind
        if t.kind == "decision":
            what += f" {t.get('success') or '!(' + (t.get('failure') or '') + ')'}"
        elif t.kind == "conditional":
            what += f" {t.get('condition') or ''}"
        return what
    if t.kind == "return" and not t.has("command"):
        return f"return {t.get('return')}"
    return " ".join(x for x in (t.get("command"), t.get("arguments")) if x)


def _visible(g: Graph) -> List[Edge]:
    """Edges worth drawing: a sub-task's own routing only when the flow can walk into it."""
    seen = seq_reached(g)
    inside = {s for subs in g.blocks.values() for s in subs}
    return [e for e in g.edges if e.kind == SUB or e.src not in inside or e.src in seen]


def _end_id(e: Edge) -> str:
    return "done" if e.end == END_OK else ("runtime" if e.end == DYNAMIC else "failed")


def _dst(e: Edge) -> str:
    return f"t{e.dst}" if e.dst is not None else _end_id(e)


def _owner(g: Graph) -> Dict[int, int]:
    """The block whose cluster draws each sub-task (the first that lists it)."""
    owner: Dict[int, int] = {}
    for b, subs in g.blocks.items():
        for s in subs:
            if s not in g.blocks:
                owner.setdefault(s, b)
    return owner


# ---- DOT ----------------------------------------------------------------------------------
def _dot_str(text: str) -> str:
    """A quoted DOT string; control characters (a NUL ends Graphviz's input) become blanks."""
    text = "".join(" " if ch < " " or ch == "\x7f" else ch for ch in text)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _node_label(tf: TaskFile, tid: int, m: Masker) -> str:
    return f"{tid}: " + _short(m.mask(task_summary(tf.tasks[tid])))


def _dot(tf: TaskFile, g: Graph, m: Masker) -> str:
    owner = _owner(g)
    out = ["digraph tasker {", "  rankdir=TB;", "  node [shape=box, fontname=Helvetica];",
           "  edge [fontname=Helvetica, fontsize=10];"]
    for tid in g.nodes:
        if tid not in owner and tid not in g.blocks:
            out.append(f"  t{tid} [label={_dot_str(_node_label(tf, tid, m))}];")
    for b, subs in g.blocks.items():
        out.append(f"  subgraph cluster_{b} {{")
        out.append(f"    label={_dot_str(f'block {b} ({tf.tasks[b].kind})')}; style=rounded;")
        out.append(f"    t{b} [label={_dot_str(_node_label(tf, b, m))}, shape=hexagon];")
        out.extend(f"    t{s} [label={_dot_str(_node_label(tf, s, m))}];"
                   for s in subs if owner.get(s) == b)
        out.append("  }")
    edges = _visible(g)
    for end in sorted({_end_id(e) for e in edges if e.dst is None and e.kind == FLOW}):
        shape = {"done": "doublecircle", "failed": "octagon", "runtime": "diamond"}[end]
        text = {"done": "end", "failed": "failed", "runtime": "target known at run time"}[end]
        out.append(f"  {end} [label={_dot_str(text)}, shape={shape}];")
    for e in edges:
        style = ", style=dashed" if e.kind == SUB else ""
        label = _dot_str(_short(m.mask(e.label)))
        out.append(f"  t{e.src} -> {_dst(e)} [label={label}{style}];")
    out.append("}")
    return "\n".join(out) + "\n"


# ---- Mermaid ------------------------------------------------------------------------------
def _mm_str(text: str) -> str:
    """A quoted Mermaid label; entity codes keep quotes and markup characters literal."""
    codes = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "|": "#124;",
             "{": "#123;", "}": "#125;", "[": "#91;", "]": "#93;", "`": "#96;"}
    text = "".join(" " if ch < " " or ch == "\x7f" else ch for ch in text)
    return '"' + "".join(codes.get(ch, ch) for ch in " ".join(text.split())) + '"'


def _mermaid(tf: TaskFile, g: Graph, m: Masker) -> str:
    owner = _owner(g)
    out = ["flowchart TD"]

    def node(tid: int, indent: str, shape: str = "[{}]") -> str:
        """One node line; `shape` wraps the quoted label (box, or hexagon for a block)."""
        return f"{indent}t{tid}{shape.format(_mm_str(_node_label(tf, tid, m)))}"

    for tid in g.nodes:
        if tid not in owner and tid not in g.blocks:
            out.append(node(tid, "  "))
    for b, subs in g.blocks.items():
        out.append(f"  subgraph block{b} [{_mm_str(f'block {b} ({tf.tasks[b].kind})')}]")
        out.append(node(b, "    ", "{{{{{}}}}}"))
        out.extend(node(s, "    ") for s in subs if owner.get(s) == b)
        out.append("  end")
    edges = _visible(g)
    ends = {"done": '(["end"])', "failed": '(["failed"])', "runtime": '{"run-time target"}'}
    for end in sorted({_end_id(e) for e in edges if e.dst is None and e.kind == FLOW}):
        out.append(f"  {end}{ends[end]}")
    for e in edges:
        arrow = "-.->" if e.kind == SUB else "-->"
        out.append(f"  t{e.src} {arrow}|{_mm_str(_short(m.mask(e.label)))}| {_dst(e)}")
    return "\n".join(out) + "\n"


def render_graph(tf: TaskFile, fmt: str) -> str:
    """The workflow as Graphviz DOT (`dot`) or a Mermaid flowchart (`mermaid`)."""
    g = routing_graph(tf)
    if fmt == "dot":
        return _dot(tf, g, _masker(tf))
    if fmt == "mermaid":
        return _mermaid(tf, g, _masker(tf))
    raise ValueError(f"unknown graph format '{fmt}' (dot or mermaid)")


# ---- the plan as text ---------------------------------------------------------------------
def _route_text(e: Edge) -> str:
    where = {END_OK: "end", DYNAMIC: "run time"}.get(e.end, "stop (failed)")
    return f"{e.label} -> {e.dst if e.dst is not None else where}"


def _host(t: Task) -> str:
    if t.has("hostnames"):
        return f"{len([h for h in (t.get('hostnames') or '').split(',') if h.strip()])} hosts"
    return t.get("hostname") or "-"


def _owner_note(tid: int, owners: Dict[int, List[int]]) -> Optional[str]:
    blocks = owners.get(tid)
    return f"sub-task of {', '.join(map(str, blocks))}" if blocks else None


def _runs(tf: TaskFile, g: Graph, block: int) -> str:
    """What a block runs: its sub-tasks, by branch for a conditional block."""
    if tf.tasks[block].kind != "conditional":
        return "runs " + ",".join(map(str, g.blocks[block]))
    branches = []
    for key, word in (("if_true_tasks", "if true runs"), ("if_false_tasks", "if false runs")):
        subs = [str(e.dst) for e in g.out[block] if e.kind == SUB and e.key == key]
        branches.append(f"{word} {','.join(subs) or 'nothing'}")
    return "; ".join(branches)


def render_plan(tf: TaskFile, start: Optional[int] = None) -> str:
    """One line per task in ID order: ID, kind, host, what it runs, and where it goes.

    `start` is where the run begins when it is not the first task (--start-from). A
    sub-task only the block runs has no routing of its own: its result goes to the block.
    """
    g, m = routing_graph(tf), _masker(tf)
    seen = seq_reached(g)
    owners: Dict[int, List[int]] = {}
    for b, subs in g.blocks.items():
        for s in subs:
            owners.setdefault(s, []).append(b)
    generated = sum(t.generated_by is not None for t in tf.tasks.values())
    count = f"{len(tf.tasks) - generated} task(s)" + (
        f" and {generated} generated for hostnames=" if generated else "")
    rows = [f"Execution plan for {tf.path}: {count}, start at task "
            f"{g.start if start is None else start}"]
    for tid, t in tf.tasks.items():
        kind = t.kind if t.kind != "normal" else (t.get("exec") or "task").lower()
        routes = [_route_text(e) for e in g.out.get(tid, ()) if e.kind != SUB]
        if tid in g.blocks:
            routes.insert(0, _runs(tf, g, tid))
        note = _owner_note(tid, owners)
        if t.generated_by is not None:
            routes = [f"(host of block {t.generated_by})"]
        elif note and tid not in seen:  # runs only inside its block(s)
            routes = [f"result goes to the block ({note})"]
        elif note:
            routes.append(f"({note}; the flow also walks into it)")
        host, what = _short(m.mask(_host(t)), 24), _short(m.mask(task_summary(t)), 44)
        rows.append(f"  {tid:>6}  {kind:<11} {host:<24} {what:<44} "
                    f"{m.mask('; '.join(routes))}".rstrip())
    return "\n".join(rows) + "\n"
