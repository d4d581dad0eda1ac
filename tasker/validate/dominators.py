"""Path questions on the routing graph: dominators, and a path that avoids some tasks.

The result-read check of the flow analysis (I.4) asks, for thousands of
`@N_...@` reads, whether every path from the start to a task passes task N;
that is dominance, answered here in constant time per question after one
near-linear pass over the graph.
"""

from __future__ import annotations

from typing import Dict, Iterator, List, Mapping, Optional, Set, Tuple

from tasker.validate.graph import Graph


def _postorder(start: int, succ: Mapping[int, Tuple[int, ...]], keep: Set[int]) -> List[int]:
    """Nodes of `keep` reachable from `start`, in depth-first postorder (no recursion)."""
    order: List[int] = []
    seen = {start}
    work: List[Tuple[int, Iterator[int]]] = [(start, iter(succ.get(start, ())))]
    while work:
        node, it = work[-1]
        for nxt in it:
            if nxt in keep and nxt not in seen:
                seen.add(nxt)
                work.append((nxt, iter(succ.get(nxt, ()))))
                break
        else:
            work.pop()
            order.append(node)
    return order


class Dominators:
    """"Does every path from the start to b pass through a?" for the reached graph.

    The iterative algorithm of Cooper, Harvey and Kennedy ("A Simple, Fast
    Dominance Algorithm"), then pre/post numbers on the dominator tree, so a
    question costs two comparisons: files have thousands of `@N_...@` reads.
    """

    def __init__(self, g: Graph, reached: Set[int]):
        self.pre: Dict[int, int] = {}
        self.post: Dict[int, int] = {}
        if g.start is None or g.start not in reached:
            return
        order = _postorder(g.start, g.succ, reached)
        rank = {n: i for i, n in enumerate(order)}  # the start has the highest rank
        preds: Dict[int, List[int]] = {n: [] for n in order}
        for n in order:
            for m in g.succ.get(n, ()):
                if m in rank:
                    preds[m].append(n)
        idom = self._idoms(order, rank, preds)
        self._number(g.start, idom)

    @staticmethod
    def _idoms(order: List[int], rank: Mapping[int, int],
               preds: Mapping[int, List[int]]) -> Dict[int, int]:
        """Immediate dominators, iterated to a fixed point in reverse postorder."""
        start = order[-1]
        idom = {start: start}
        changed = True
        while changed:
            changed = False
            for n in reversed(order[:-1]):
                new: Optional[int] = None
                for p in preds[n]:
                    if p in idom:
                        new = p if new is None else _meet(p, new, idom, rank)
                if new is not None and idom.get(n) != new:
                    idom[n] = new
                    changed = True
        return idom

    def _number(self, start: int, idom: Mapping[int, int]) -> None:
        """Pre- and post-order numbers of the dominator tree."""
        children: Dict[int, List[int]] = {}
        for n, d in idom.items():
            if n != d:
                children.setdefault(d, []).append(n)
        clock = 0
        work: List[Tuple[int, Iterator[int]]] = [(start, iter(children.get(start, ())))]
        self.pre[start] = clock
        while work:
            node, it = work[-1]
            child = next(it, None)
            if child is None:
                work.pop()
                clock += 1
                self.post[node] = clock
            else:
                clock += 1
                self.pre[child] = clock
                work.append((child, iter(children.get(child, ()))))

    def dominates(self, a: int, b: int) -> bool:
        """True when a == b or every path from the start to b passes through a."""
        if a not in self.pre or b not in self.pre:
            return False
        return self.pre[a] <= self.pre[b] and self.post[b] <= self.post[a]


def _meet(a: int, b: int, idom: Mapping[int, int], rank: Mapping[int, int]) -> int:
    """The nearest common dominator of a and b (both already have a dominator)."""
    while a != b:
        while rank[a] < rank[b]:
            a = idom[a]
        while rank[b] < rank[a]:
            b = idom[b]
    return a


def path_avoiding(g: Graph, goal: int, avoid: Set[int]) -> Optional[List[int]]:
    """A shortest path from the start to `goal` through none of `avoid`, or None."""
    if g.start is None or g.start in avoid:
        return None
    parent: Dict[int, Optional[int]] = {g.start: None}
    frontier = [g.start]
    while frontier and goal not in parent:
        nxt = []
        for n in frontier:
            for m in g.succ.get(n, ()):
                if m not in parent and m not in avoid:
                    parent[m] = n
                    nxt.append(m)
        frontier = nxt
    if goal not in parent:
        return None
    path = [goal]
    while parent[path[-1]] is not None:
        path.append(parent[path[-1]])  # type: ignore[arg-type]
    return path[::-1]
