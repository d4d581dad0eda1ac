"""Static flow analysis: what the routing graph tells about the workflow (SPEC I.4).

The graph itself (tasks, routing edges, blocks) and its algorithms live in
graph.py. `flow_diagnostics` reports numbering gaps that cut the flow off
(II.8.1, error), routing loops no path leaves (error), unreachable tasks,
`@N_...@` read where task N cannot have run yet, and the flow walking into a
block's sub-task (C16) (warnings).
"""

from __future__ import annotations

from typing import Dict, Iterator, List, Mapping, Optional, Set, Tuple

from tasker.syntax.ast import Field, Task, TaskFile
from tasker.syntax.diagnostics import WARNING, Diagnostic
from tasker.syntax.numbers import parse_int
from tasker.syntax.placeholders import RESULT_FIELDS, TASK_REF
from tasker.validate.dominators import Dominators, path_avoiding
from tasker.validate.fields import LIST_FIELDS, at, block_list
from tasker.validate.graph import (
    DYNAMIC,
    END_FAIL,
    END_OK,
    FLOW,
    LOOP,
    SUB,
    Edge,
    Graph,
    Reach,
    closure,
    routing_graph,
    sccs,
    seq_reached,
)

# The graph's names stay importable from here, where callers found them before graph.py.
__all__ = [
    "DYNAMIC", "END_FAIL", "END_OK", "FLOW", "LOOP", "SUB", "Edge", "Graph", "routing_graph",
    "sccs", "seq_reached", "AFTER_BLOCK", "Read", "task_reads", "dependency_notes",
    "referenced_ids", "exempt_id",
    "gap_tasks", "gaps", "endless_loops", "unreached", "into_subtasks", "early_reads",
    "flow_diagnostics", "flow_findings",
]

# A block's fields read after its sub-tasks ran (routing targets are resolved then, C19)
AFTER_BLOCK = ("success", "next", "failure", "loop_break", "on_success", "on_failure")


# ---- the gap rule (II.8.1) ----------------------------------------------------------------
Read = Tuple[Field, int, str]  # the field, the task ID read, the result name


def task_reads(tf: TaskFile) -> Dict[int, List[Read]]:
    """Every `@N_field@` each task reads, in field order."""
    found: Dict[int, List[Read]] = {}
    findall = TASK_REF.findall
    for tid, task in tf.tasks.items():
        items = [(f, int(n), low) for f in task.fields.values() if "@" in f.value
                 for n, name in findall(f.value) for low in (name.lower(),)
                 if low in RESULT_FIELDS]
        if items:
            found[tid] = items
    return found


NOTED_RESULTS = frozenset({"stdout", "stderr", "success", "exit"})  # the original's (II.8.4)


def dependency_notes(tf: TaskFile, reads: Mapping[int, List[Read]]) -> List[str]:
    """HEAD's informational notes (II.8.4): `condition`/`arguments` reading a later task's
    stdout, stderr, success or exit (the result names the original knows)."""
    notes = []
    for r, items in reads.items():
        for f, n, name in items:
            if n > r and f.key in ("condition", "arguments") and name in NOTED_RESULTS \
                    and tf.tasks[r].generated_by is None:
                notes.append(f"#   Task {r}: {f.key} reads @{n}_{name}@ of task {n}, which "
                             "comes later")
    return ["# WARNING: Task dependency issues detected"] + notes if notes else []


def referenced_ids(tf: TaskFile, reads: Mapping[int, List[Read]]) -> Set[int]:
    """IDs named by routing, block lists or `@N_...@` anywhere in the file."""
    found = {n for items in reads.values() for _, n, _ in items}
    for task in tf.tasks.values():
        fields = task.fields
        for key in ("on_success", "on_failure"):
            n = parse_int(fields[key].value) if key in fields else None
            if n is not None:
                found.add(n)
        if "type" in fields:
            for key in LIST_FIELDS:
                found.update(block_list(task, key))
    return found


def exempt_id(tid: int) -> bool:
    """90-99 (handlers) and 100-999 (sub-tasks) are exempt when something references them."""
    return 90 <= tid <= 99 or 100 <= tid <= 999


def gap_tasks(tf: TaskFile, refs: Set[int]) -> Dict[int, int]:
    """Tasks `b` cut off by a numbering gap: {b: the task before the gap}."""
    ids = [t for t, task in tf.tasks.items() if task.generated_by is None]
    found = {}
    for a, b in zip(ids, ids[1:]):
        if b - a <= 1 or b in refs or exempt_id(b):
            continue
        if not any(tf.tasks[a].has(k) for k in ("on_success", "on_failure", "next", "return")):
            found[b] = a
    return found


def _missing(a: int, b: int) -> str:
    """The IDs between a and b, shortened when there are more than five (never listed out:
    a gap may span billions of IDs)."""
    shown = list(range(a + 1, b)) if b - a <= 6 else [a + 1, a + 2, "...", b - 1]
    return "[" + ", ".join(map(str, shown)) + "]"


def gaps(tf: TaskFile, gap: Mapping[int, int]) -> Iterator[Diagnostic]:
    """The "Task sequence has gaps" errors."""
    for b, a in gap.items():
        yield at(tf, tf.tasks[b].fields["task"], f"Task sequence has gaps: Missing task(s) "
                 f"{_missing(a, b)} between task {a} and task {b}, so the flow stops after "
                 f"task {a} and task {b} never runs", hint=f"renumber task {b}, route to it "
                 f"with on_success=/on_failure= from task {a}, or end task {a} with "
                 "next=never or return=")


# ---- findings -----------------------------------------------------------------------------
def _where(t: Task, key: Optional[str]) -> Field:
    """The field `key` of task t, or its task= line."""
    return t.fields.get(key or "task") or t.fields["task"]


def endless_loops(tf: TaskFile, g: Graph, seen: Set[int]) -> Iterator[Diagnostic]:
    """Cycles of reached tasks from which no path leads to an end of the run."""
    if g.forward:
        return  # no cycles; and every task has a step, so every path reaches an end
    succ = g.succ
    pred: Dict[Optional[int], List[Optional[int]]] = {}  # None stands for "the run ends"
    for e in g.edges:
        if e.kind == FLOW:
            pred.setdefault(e.dst, []).append(e.src)
    ends: List[Optional[int]] = [None]
    reach_an_end: Set[Optional[int]] = closure(ends, pred)
    trapped = seen - reach_an_end
    inner = {n: [m for m in succ[n] if m in trapped] for n in trapped}
    for comp in sccs(sorted(trapped), inner):
        members = set(comp)
        back = [e for n in sorted(comp) for e in g.out[n]
                if e.kind == FLOW and e.dst in members and e.dst <= e.src]
        if back:
            e = back[0]
            cycle = " -> ".join(map(str, sorted(members))) + f" -> {e.dst}"
            yield at(tf, _where(tf.tasks[e.src], e.key), f"Task {e.src}: {e.label} "
                     f"closes a routing loop ({cycle}) that no path leaves; the run would "
                     "never end", hint="route one of these tasks forward, or use next=loop "
                     "with loop=N for a bounded repeat")


def unreached(tf: TaskFile, g: Graph, seen: Set[int], refs: Set[int],
              gap: Mapping[int, int]) -> Iterator[Diagnostic]:
    """Tasks no path from the start reaches (blocks reach their sub-tasks)."""
    if any(e.end == DYNAMIC for e in g.edges if e.src in seen):
        return  # a run-time target may lead anywhere
    for tid, t in tf.tasks.items():
        if t.generated_by is not None or tid in seen or tid in gap:
            continue
        if tid in g.owners or (exempt_id(tid) and tid in refs):
            continue  # sub-tasks: reported with their block, or reached through it
        what = " (nor its sub-tasks)" if tid in g.blocks else ""
        yield at(tf, t.fields["task"], f"Task {tid} is never reached{what}: no path from the "
                 f"start task ({g.start}) leads to it", severity=WARNING,
                 hint="route to it with on_success=/on_failure=, or remove it")


def into_subtasks(tf: TaskFile, g: Graph, seen: Set[int]) -> Iterator[Diagnostic]:
    """C16: the sequential flow running a block's sub-task outside its block."""
    owners = g.owners
    if not owners:
        return  # no blocks, no sub-tasks to walk into
    start = g.start
    if start is not None and start in owners:  # the run begins with a sub-task
        b = owners[start][0]
        yield at(tf, tf.tasks[start].fields["task"], f"Task {start}: the run starts with "
                 f"this task, a sub-task of block {b}, which then runs outside its block as "
                 "well", severity=WARNING, hint="give the first step of the workflow the "
                 "lowest ID, and the sub-tasks IDs of their own")
    for n in sorted(seen):
        for e in g.out[n]:
            if e.kind == FLOW and e.dst is not None and e.dst in owners and e.dst != n:
                b = owners[e.dst][0]
                yield at(tf, _where(tf.tasks[n], e.key), f"Task {n}: the flow continues "
                         f"to task {e.dst} ({e.label}), a sub-task of block {b}, which then "
                         "runs outside its block as well", severity=WARNING,
                         hint=f"end task {n} with next=never, or route it past the sub-tasks")


def early_reads(tf: TaskFile, g: Graph, seen: Set[int],
                reads: Mapping[int, List[Read]]) -> Iterator[Diagnostic]:
    """`@N_...@` read where some path from the start has not passed through task N (I.4).

    Task N has run before a read in task R when every path from the start to R
    passes through N (N dominates R), or through a block that runs N; sub-tasks
    of one conditional branch run in list order. Otherwise the placeholder stays
    unresolved on at least one path, which the warning shows.
    """
    dom: Optional[Dominators] = None
    reach: Optional[Reach] = None
    only_pred = _only_predecessors(g, seen)
    for r, items in reads.items():
        if tf.tasks[r].generated_by is not None:
            continue  # generated: its block's fields are checked
        at_r: Optional[List[int]] = None
        done: Set[int] = set()
        for f, n, name in items:
            if n == r or n in done or n not in tf.tasks or (
                    n in g.blocks.get(r, ()) and f.key in AFTER_BLOCK):
                continue  # a block's success/next see its sub-tasks' results
            done.add(n)
            if r not in g.owners and r in seen and _on_every_path(only_pred, n, r):
                continue  # the commonest case: reading a task the flow must come through
            dom = dom or Dominators(g, seen)
            if r not in g.owners and n in seen and r in seen and dom.dominates(n, r):
                continue  # the common case, without building the lists below (speed)
            at_n = _places(g, seen, n)
            at_r = at_r or _places(g, seen, r, every=False)
            unsafe = [p for p in at_r if not _ran_before(g, dom, at_n, p, n, r)]
            if not unsafe:
                continue
            branch = next((b for b in g.owners.get(n, ()) if b in seen and b not in at_n), None)
            if branch is not None and not at_n:  # N runs in one branch of a conditional block
                yield _early(tf, g, f, r, n, name, None,
                             None if _never_first(g, branch, at_r, n, r) else branch)
                continue
            reach = reach or Reach(seen, g)
            never = not any(reach.path(c, p) or (c == p and _in_order(g, c, n, r))
                            for c in at_n for p in at_r)
            yield _early(tf, g, f, r, n, name,
                         None if never else path_avoiding(g, unsafe[0], set(at_n)))


def _only_predecessors(g: Graph, seen: Set[int]) -> Dict[int, int]:
    """{task: the one task every step into it comes from}, for reached tasks other than
    the start that have exactly one reached predecessor."""
    preds: Dict[int, Optional[int]] = {}
    for a in seen:
        for b in g.succ[a]:
            if preds.setdefault(b, a) != a:
                preds[b] = None  # (two predecessors or more)
    if g.start is not None:
        preds.pop(g.start, None)  # a path of no steps reaches the start
    return {b: a for b, a in preds.items() if a is not None}


def _on_every_path(only_pred: Mapping[int, int], n: int, r: int, steps: int = 8) -> bool:
    """True when task N is found walking back from reached task R through tasks with a
    single predecessor, which every path to R must then pass (a few steps, then give up:
    the dominator tree answers the rest)."""
    p = only_pred.get(r)
    while p is not None and steps:
        if p == n:
            return True
        p, steps = only_pred.get(p), steps - 1
    return False


def _places(g: Graph, seen: Set[int], tid: int, every: bool = True) -> List[int]:
    """Where a task runs: itself when the flow walks into it, and its reached blocks.

    With `every`, only the blocks that run it whenever they run: a parallel block
    runs all its sub-tasks, a conditional block only those of the branch it takes.
    """
    return ([tid] if tid in seen else []) + [b for b in g.owners.get(tid, ())
                                              if b in seen and (not every or _always(g, b, tid))]


def _always(g: Graph, block: int, tid: int) -> bool:
    """True when `block` runs sub-task `tid` each time it runs."""
    keys = {e.key for e in g.out[block] if e.kind == SUB and e.dst == tid}
    return "tasks" in keys or {"if_true_tasks", "if_false_tasks"} <= keys


def _ran_before(g: Graph, dom: Dominators, at_n: List[int], p: int, n: int, r: int) -> bool:
    """True when task N has run whenever the flow reaches place p of task R."""
    if any(c != p and dom.dominates(c, p) for c in at_n):
        return True
    if p in g.owners.get(n, ()) and p in g.owners.get(r, ()) and _in_order(g, p, n, r):
        return True
    # N runs in several places (e.g. two blocks): each path must pass one of them
    return len(at_n) > 1 and p not in at_n and path_avoiding(g, p, set(at_n)) is None


def _branches(g: Graph, block: int) -> List[List[int]]:
    """The sub-task lists of a conditional block's branches (none for a parallel block)."""
    return [[e.dst for e in g.out[block] if e.kind == SUB and e.key == key and e.dst is not None]
            for key in ("if_true_tasks", "if_false_tasks")]


def _never_first(g: Graph, block: int, at_r: List[int], n: int, r: int) -> bool:
    """True when R runs only in conditional `block`, in no branch after N."""
    return at_r == [block] and not any(n in subs[:subs.index(r)]
                                       for subs in _branches(g, block) if r in subs)


def _in_order(g: Graph, block: int, n: int, r: int) -> bool:
    """Conditional branch tasks run in list order: every branch with R lists N before it."""
    with_r = [subs for subs in _branches(g, block) if r in subs]
    return bool(with_r) and all(n in subs[:subs.index(r)] for subs in with_r)


def _early(tf: TaskFile, g: Graph, f: Field, r: int, n: int, name: str,
           path: Optional[List[int]], branch: Optional[int] = None) -> Diagnostic:
    """The warning; `path` is a route to task R without task N, None when N never runs
    first; `branch` a conditional block that runs N in one of its branches only."""
    shared = sorted(set(g.owners.get(n, ())) & set(g.owners.get(r, ())))
    hint = f"run task {n} earlier, or route through it first"
    if shared:
        b = shared[0]
        if tf.tasks[b].kind == "parallel":
            hint = f"tasks {n} and {r} run at the same time in parallel block {b}"
        else:
            with_r = [subs for subs in _branches(g, b) if r in subs]
            if all(n in subs for subs in with_r):
                hint = f"list task {n} before task {r} in block {b}"
            elif any(n in subs for subs in with_r):
                hint = (f"task {r} also runs in a branch of block {b} without task {n}: "
                        f"list task {n} there too, before task {r}, or guard the read")
            else:
                hint = f"tasks {n} and {r} are in different branches of conditional block {b}"
    if branch is not None:
        which = [key for key, subs in zip(("true", "false"), _branches(g, branch)) if n in subs]
        why = (f"task {n} may not have run before task {r}: it runs only when conditional "
               f"block {branch} takes its {which[0] if which else 'other'} branch")
        if not shared:
            hint = f"guard the read, or list task {n} in both branches of block {branch}"
    elif path is None:
        why = f"task {n} cannot have run before task {r} on any path from the start"
    else:
        shown = " -> ".join(map(str, path)) if len(path) <= 8 else \
            " -> ".join([*map(str, path[:3]), "...", *map(str, path[-3:])])
        why = f"task {n} may not have run before task {r}: the path {shown} does not pass it"
        hint = f"guard the read, or make every path to task {r} pass task {n}"
    return at(tf, f, f"Task {r}: {f.key} reads @{n}_{name}@, but {why}; the placeholder then "
              "stays unresolved", max(f.raw.find(f"@{n}_"), 0), hint=hint, severity=WARNING)


def flow_diagnostics(tf: TaskFile) -> List[Diagnostic]:
    """Gaps, endless loops, unreachable tasks, early reads and walks into sub-tasks."""
    return flow_findings(tf)[0]


def flow_findings(tf: TaskFile) -> Tuple[List[Diagnostic], List[str]]:
    """The flow diagnostics, and the informational dependency notes (they share the reads)."""
    if not tf.tasks:
        return [], []
    g = routing_graph(tf)
    seen = seq_reached(g)
    reads = task_reads(tf)
    refs = referenced_ids(tf, reads)
    gap = gap_tasks(tf, refs)
    found: List[Diagnostic] = list(gaps(tf, gap))
    found.extend(endless_loops(tf, g, seen))
    found.extend(unreached(tf, g, seen, refs, gap))
    found.extend(into_subtasks(tf, g, seen))
    found.extend(early_reads(tf, g, seen, reads))
    return found, dependency_notes(tf, reads)
