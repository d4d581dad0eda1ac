"""The routing graph of a workflow and the graph algorithms the analyses use (SPEC I.4).

`routing_graph` applies the engine's rules (II.3.4, II.5): ID + 1, `on_success`,
`on_failure`, `next`, `return`, a skipped task going to ID + 1, blocks running
their sub-tasks ("sub" edges) and routing on their aggregate. The flow analysis
(flow.py) draws its findings from this graph, the graph and plan printers
(render.py) draw it.
"""

from __future__ import annotations

from typing import (
    Dict,
    Hashable,
    Iterable,
    Iterator,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Set,
    Tuple,
    TypeVar,
)

from tasker.record import field, record
from tasker.syntax.ast import Task, TaskFile
from tasker.syntax.numbers import parse_int
from tasker.validate.fields import LIST_FIELDS, block_list

END_OK, END_FAIL, DYNAMIC = "ok", "fail", "dynamic"
FLOW, SUB, LOOP = "flow", "sub", "loop"


class Edge(NamedTuple):
    """One possible step: `src` -> `dst` (None: the run ends, or only known at run time).

    A NamedTuple rather than a dataclass: files have tens of thousands of edges.
    """

    src: int
    dst: Optional[int]
    label: str
    kind: str = FLOW  # FLOW (routing), SUB (block runs sub-task), LOOP (bounded repeat)
    key: Optional[str] = None  # the field that makes the step, for locating diagnostics
    end: str = ""  # when dst is None: END_OK, END_FAIL or DYNAMIC


@record(frozen=True)
class Graph:
    """Tasks as nodes, routing as edges, blocks with their sub-tasks."""

    start: Optional[int]
    nodes: Tuple[int, ...]
    edges: Tuple[Edge, ...]
    blocks: Mapping[int, Tuple[int, ...]]  # block ID -> defined sub-task IDs, list order
    out: Mapping[int, Tuple[Edge, ...]] = field(default_factory=dict, compare=False)
    owners: Mapping[int, Tuple[int, ...]] = field(default_factory=dict, compare=False)
    succ: Mapping[int, Tuple[int, ...]] = field(default_factory=dict, compare=False)
    forward: bool = False  # every routing step goes to a higher ID: no cycles at all


Node = TypeVar("Node", bound=Hashable)  # a task ID, or None for the end of the run (closure)


# ---- building the graph -------------------------------------------------------------------
def _goto(tf: TaskFile, t: Task, tid: int, label: str, key: Optional[str] = None) -> Edge:
    """Continue with `tid`; an undefined ID ends the run successfully."""
    defined = tid in tf.tasks
    return Edge(t.id, tid if defined else None, label, FLOW, key, "" if defined else END_OK)


def _jump(tf: TaskFile, t: Task, key: str, cond: str = "") -> Edge:
    """Follow `on_success`/`on_failure`; a placeholder target is only known at run time."""
    label = f"{key} ({cond})" if cond else key
    n = parse_int(t.get(key) or "")
    if n is None:
        return Edge(t.id, None, f"{label}: {t.get(key)}", FLOW, key, DYNAMIC)
    return _goto(tf, t, n, label, key)


def _stop(t: Task, label: str, key: Optional[str], ok: bool) -> Edge:
    return Edge(t.id, None, label, FLOW, key, END_OK if ok else END_FAIL)


def _return(t: Task) -> Edge:
    value = (t.get("return") or "").strip()
    return _stop(t, f"return {value}", "return", value == "0")


def _branches(tf: TaskFile, t: Task, cond: str, key: Optional[str], always: bool,
              fail_label: str) -> List[Edge]:
    """Success -> on_success or ID + 1; failure -> on_failure or a failed end."""
    ok = _jump(tf, t, "on_success", cond) if "on_success" in t.fields else \
        _goto(tf, t, t.id + 1, f"{cond} (ID+1)" if cond else "ID+1", key)
    if always:
        return [ok]
    bad = _jump(tf, t, "on_failure", f"not {cond}" if cond else "") \
        if "on_failure" in t.fields else _stop(t, fail_label, key, False)
    return [ok, bad]


def _is_loop(t: Task) -> bool:
    if "loop" not in t.fields:
        return False
    low = (t.get("next") or "").strip().lower()
    return low == "loop" or low.startswith("loop&")


def _ordinary(tf: TaskFile, t: Task) -> List[Edge]:
    """II.3.3/3.4 for a task with a command (or a return-only task)."""
    fields = t.fields  # membership tests on the mapping: this runs for every task
    edges = [_goto(tf, t, t.id + 1, "skipped (ID+1)", "condition")] if "condition" in fields \
        else []
    if "return" in fields:  # (with a loop too: the run ends after the first iteration)
        return edges + [_return(t)]
    if _is_loop(t):
        edges.append(Edge(t.id, t.id, f"loop x{t.get('loop')}", LOOP, "loop"))
        return edges + [_goto(tf, t, t.id + 1, "ID+1")]
    nxt = (t.get("next") or "").strip()
    low = nxt.lower()
    if low == "never":
        return edges + [_stop(t, "next=never", "next", True)]
    if low == "always":
        return edges + [_goto(tf, t, t.id + 1, "next=always", "next")]
    if nxt:
        return edges + _branches(tf, t, f"next: {nxt}", "next", False, f"not next: {nxt}")
    fail = "failure (exit 10)" if t.has("on_success") else "failure"
    return edges + _branches(tf, t, "", None, False, fail)


def _block(tf: TaskFile, t: Task) -> List[Edge]:
    """A parallel/conditional block runs its sub-tasks, then routes on its aggregate."""
    edges = []
    for key in LIST_FIELDS:
        word = {"tasks": "runs", "if_true_tasks": "if true", "if_false_tasks": "if false"}[key]
        edges += [Edge(t.id, s, word, SUB, key) for s in block_list(t, key) if s in tf.tasks]
    low = (t.get("next") or "").strip().lower()
    if t.kind == "conditional" and not t.has("success") and low in ("never", "loop"):
        # a conditional block's `next=never`/`next=loop` is a false condition (II.5.2)
        return edges + [_jump(tf, t, "on_failure", f"next={low} is false")
                        if t.has("on_failure") else
                        _stop(t, f"next={low} is false (exit 10)", "next", False)]
    if _is_loop(t) and not t.has("success"):  # (success= decides: no loop, II.5.1)
        return edges + [Edge(t.id, t.id, f"loop x{t.get('loop')}", LOOP, "loop"),
                        _goto(tf, t, t.id + 1, "ID+1")]
    if not t.has("success") and low == "never":
        return edges + [_stop(t, "next=never", "next", True)]
    route = "success" if t.has("success") else ("next" if low else None)
    cond = (t.get(route) or "").strip() if route else "all_success"
    return edges + _branches(tf, t, cond, route, route == "next" and low == "always",
                             f"not {cond} (exit 10)")


def _decision(tf: TaskFile, t: Task) -> List[Edge]:
    """True -> on_success or ID + 1; false -> on_failure or a failed end (C1-C3)."""
    low = (t.get("next") or "").strip().lower()
    if low == "never":
        ok = _jump(tf, t, "on_success", "true") if t.has("on_success") \
            else _stop(t, "next=never", "next", True)
        bad = _jump(tf, t, "on_failure", "false") if t.has("on_failure") \
            else _stop(t, "next=never", "next", True)
        return [ok, bad]
    edges = _branches(tf, t, "true", None, False, "false (exit 10)")
    if low == "always" and not t.has("on_failure"):
        edges[1] = _goto(tf, t, t.id + 1, "false: next=always (ID+1)", "next")
    return edges


# A task with none of these keys takes the common path: skipped or succeeded -> ID + 1,
# failed -> a failed end (`loop` needs `next=loop`, so it is no routing key on its own).
_ROUTING_KEYS = frozenset({"return", "next", "on_success", "on_failure", "type"})
_new_edge = tuple.__new__  # (Edge's own constructor is a Python call; files have 30,000 edges)


def _plain(tf: TaskFile, tid: int, skippable: bool) -> Tuple[Edge, ...]:
    """The edges of a task without routing keys, as _ordinary would build them (speed)."""
    nxt = tid + 1
    if nxt in tf.tasks:
        ok = _new_edge(Edge, (tid, nxt, "ID+1", FLOW, None, ""))
        skip = _new_edge(Edge, (tid, nxt, "skipped (ID+1)", FLOW, "condition", ""))
    else:
        ok = _new_edge(Edge, (tid, None, "ID+1", FLOW, None, END_OK))
        skip = _new_edge(Edge, (tid, None, "skipped (ID+1)", FLOW, "condition", END_OK))
    bad = _new_edge(Edge, (tid, None, "failure", FLOW, None, END_FAIL))
    return (skip, ok, bad) if skippable else (ok, bad)


def _task_edges(tf: TaskFile, t: Task) -> Tuple[Edge, ...]:
    """Every step out of task t, by its kind."""
    kind = t.kind if "type" in t.fields else "normal"
    if kind in ("parallel", "conditional"):
        return tuple(_block(tf, t))
    return tuple(_decision(tf, t) if kind == "decision" else _ordinary(tf, t))


def routing_graph(tf: TaskFile) -> Graph:
    """The workflow as a graph (generated sub-tasks appear only inside their block)."""
    edges: List[Edge] = []
    blocks: Dict[int, Tuple[int, ...]] = {}
    out: Dict[int, Tuple[Edge, ...]] = {}
    succ: Dict[int, Tuple[int, ...]] = {}
    owners: Dict[int, List[int]] = {}
    forward, routing_keys = True, _ROUTING_KEYS
    for tid, t in tf.tasks.items():
        if t.generated_by is not None:
            out[tid] = succ[tid] = ()
            continue
        fields = t.fields
        if routing_keys.isdisjoint(fields):
            found = out[tid] = _plain(tf, tid, "condition" in fields)
            succ[tid] = (tid + 1,) * (len(found) - 1) if tid + 1 in tf.tasks else ()
            edges.extend(found)
            continue
        found = out[tid] = _task_edges(tf, t)
        edges.extend(found)
        succ[tid] = steps = tuple(e.dst for e in found if e.kind == FLOW and e.dst is not None)
        forward = forward and all(m > tid for m in steps)
        for e in found:
            if e.kind == SUB and e.dst is not None and e.src not in owners.get(e.dst, ()):
                owners.setdefault(e.dst, []).append(e.src)
        if t.kind in ("parallel", "conditional"):
            blocks[tid] = tuple(dict.fromkeys(e.dst for e in found
                                              if e.kind == SUB and e.dst is not None))
    user = [tid for tid, t in tf.tasks.items() if t.generated_by is None]
    start = (0 if 0 in tf.tasks else min(user)) if user else None
    return Graph(start, tuple(tf.tasks), tuple(edges), blocks, out,
                 {k: tuple(v) for k, v in owners.items()}, succ, forward)


# ---- graph algorithms ---------------------------------------------------------------------
def closure(roots: Iterable[Node], succ: Mapping[Node, Iterable[Node]]) -> Set[Node]:
    """Every node reachable from `roots` (roots included)."""
    seen: Set[Node] = set()
    todo = list(roots)
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(succ.get(n, ()))
    return seen


def seq_reached(g: Graph) -> Set[int]:
    """Tasks the sequential flow can run (a block's sub-tasks only when walked into)."""
    return closure([g.start] if g.start is not None else [], g.succ)


def sccs(nodes: List[int], succ: Mapping[int, List[int]]) -> List[List[int]]:
    """Strongly connected components, sinks first (Tarjan, without recursion)."""
    index: Dict[int, int] = {}
    low: Dict[int, int] = {}
    stack: List[int] = []
    on: Set[int] = set()
    result: List[List[int]] = []
    work: List[Tuple[int, Iterator[int]]] = []

    def push(v: int) -> None:
        """Visit v: number it and put it on both stacks."""
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        work.append((v, iter(succ.get(v, ()))))

    for root in nodes:
        if root in index:
            continue
        push(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    push(w)
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp: List[int] = []
                    while not comp or comp[-1] != v:
                        comp.append(stack.pop())
                        on.discard(comp[-1])
                    result.append(comp)
    return result


class Reach:
    """"Is there a path of length >= 1 from a to b?" for the reached part of the graph."""

    def __init__(self, reached: Set[int], g: Graph):
        inner = {n: [m for m in g.succ.get(n, ()) if m in reached] for n in reached}
        self.comp: Dict[int, int] = {}
        self.bits: List[int] = []
        if g.forward:
            # Forward-only routing: descending IDs are a topological order and every task
            # is a component of its own, so Tarjan's walk is not needed (speed).
            comps = [[n] for n in sorted(reached, reverse=True)]
        else:
            comps = sccs(sorted(reached), inner)
        for i, members in enumerate(comps):
            bits = 1 << i if len(members) > 1 or members[0] in inner[members[0]] else 0
            for n in members:
                self.comp[n] = i
            for n in members:  # successors are in earlier (already finished) components
                for m in inner[n]:
                    c = self.comp[m]
                    if c != i:
                        bits |= (1 << c) | self.bits[c]
            self.bits.append(bits)

    def path(self, a: int, b: int) -> bool:
        """True when b can follow a (both must be reached tasks)."""
        return bool(self.bits[self.comp[a]] >> self.comp[b] & 1)

