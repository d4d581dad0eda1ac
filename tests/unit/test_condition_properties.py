"""Property tests: print/parse round trip, robustness on random text, evaluator vs a reference."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple, Union

from hypothesis import given, settings, strategies as st

from tasker.engine.evaluate import Current, evaluate
from tasker.syntax.condition import (
    And,
    BareOperand,
    BoolLiteral,
    Comparison,
    ConditionError,
    Contains,
    ExitCode,
    ExitNotZero,
    ExitTest,
    LineCount,
    MultiTask,
    Not,
    Or,
    OutputMatch,
    Ref,
    StreamField,
    StreamValue,
    Success,
    Template,
    format_condition,
    parse_block_condition,
    parse_condition,
)
from tasker.syntax.placeholders import RESULT_FIELDS

# ---- random ASTs ------------------------------------------------------------------------

streams = st.sampled_from(["stdout", "stderr"])
refs = st.builds(Ref, st.integers(0, 30), st.sampled_from(sorted(RESULT_FIELDS)))
# Values may hold anything the printer can quote; backslashes are left out because a
# quoted value ending in one cannot be written unambiguously (HEAD's quoting rule).
value_text = st.text(alphabet="ab Z09:;%.,-_=~<>!()\"'&|/#", min_size=1, max_size=12)


def template(parts: List[Union[str, Ref]]) -> Template:
    """A Template as the parser builds it: adjacent literals merged, no empty parts."""
    merged: List[Union[str, Ref]] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    return Template(tuple(merged))


values = st.lists(st.one_of(value_text, refs), max_size=4).map(template)
patterns = values.filter(lambda t: bool(t.parts))
# Left operands are written bare, so literal words must not look like keywords.
left_words = st.sampled_from(["alpha", "10", "1.5", "my env", "@ENV@", "true", "success_rate",
                              "v", "-x-", "exit_0", "contains", "stdout_x"])
left_templates = st.lists(st.one_of(left_words, refs), min_size=1, max_size=3).map(template)
operands = st.one_of(
    st.just(ExitCode()),
    st.builds(StreamField, streams, st.sampled_from(["comma", "space", "=", ";", "tab", "x y"]),
              st.integers(-1, 12)),
    left_templates,
)
bare = st.lists(st.one_of(refs, st.sampled_from(["@FLAG@", "@OK_COND@"])), min_size=1,
                max_size=3).map(template)
compare_ops = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
all_ops = st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "~", "!~"])
comparisons = st.one_of(
    st.builds(Comparison, operands, all_ops, values),
    # `stdout~x` is an OutputMatch; a bare stream only compares with the other operators
    st.builds(Comparison, st.builds(StreamValue, streams), compare_ops, values),
)

leaves = st.one_of(
    st.builds(ExitTest, st.integers(-5, 300)),
    st.just(ExitNotZero()),
    st.just(Success()),
    st.builds(BoolLiteral, st.booleans()),
    st.builds(OutputMatch, streams, st.one_of(st.none(), patterns), st.booleans()),
    st.builds(LineCount, streams, compare_ops, st.integers(-3, 50)),
    st.builds(Contains, values, st.booleans()),
    comparisons,
    st.builds(BareOperand, bare),
)
multi = st.one_of(
    st.builds(MultiTask, st.sampled_from(["all_success", "any_success", "majority_success",
                                          "always", "never"])),
    st.builds(MultiTask, st.sampled_from(["min_success", "max_success", "min_failed",
                                          "max_failed"]), st.integers(0, 20)),
)


def trees(atoms: st.SearchStrategy) -> st.SearchStrategy:
    """Random expressions over the given atoms."""
    return st.recursive(atoms, lambda kids: st.one_of(
        st.lists(kids, min_size=2, max_size=4).map(lambda xs: Or(tuple(xs))),
        st.lists(kids, min_size=2, max_size=4).map(lambda xs: And(tuple(xs))),
        kids.map(Not),
    ), max_leaves=12)


@settings(max_examples=400)
@given(trees(leaves))
def test_printed_ast_parses_back_equal(expr) -> None:
    text = format_condition(expr)
    assert parse_condition(text) == expr
    assert format_condition(parse_condition(text)) == text


@settings(max_examples=200)
@given(trees(st.one_of(leaves, multi)))
def test_printed_block_ast_parses_back_equal(expr) -> None:
    assert parse_block_condition(format_condition(expr)) == expr


# ---- random text ------------------------------------------------------------------------

condition_chars = st.text(alphabet="()&|!~=<>\"' @_019,:xabcdefilnorstuT\\", max_size=30)


def check_text(text: str, parse) -> None:
    """Parsing either fails with a located ConditionError or round-trips through the printer."""
    try:
        expr = parse(text)
    except ConditionError as err:
        assert 1 <= err.column <= len(text) + 1, (text, err)
        assert err.message
        return
    assert parse(format_condition(expr)) == expr


@settings(max_examples=500)
@given(st.one_of(st.text(), condition_chars))
def test_random_text_only_raises_condition_error(text: str) -> None:
    check_text(text, parse_condition)


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=20), condition_chars))
def test_random_text_block_parser(text: str) -> None:
    check_text(text, parse_block_condition)


# ---- evaluator against a plain reference ------------------------------------------------

Results = Dict[int, Dict[str, str]]
CONTEXTS: List[Tuple[Current, Results]] = [
    (Current(0, "ready\n", ""), {0: {"success": "True", "stdout": "42", "exit": "0"}}),
    (Current(1, "", "boom\n"), {}),
    (Current(3, "a\nb\n", "  \n"), {0: {"success": "False", "stdout": "x|y", "exit": "1"}}),
    (Current(0, "Status: OK (100%)\n", "", success=False), {5: {"stdout": "ready"}}),
]
# (atom, its truth in each context) — worked out by hand from SPEC II.3.2 and I.2.
ATOMS: List[Tuple[str, Tuple[bool, ...]]] = [
    ("exit_0", (True, False, False, True)),
    ("exit_not_0", (False, True, True, False)),
    ("exit_3", (False, False, True, False)),
    ("success", (True, False, False, False)),
    ("true", (True, True, True, True)),
    ("FALSE", (False, False, False, False)),
    ("stdout~ready", (True, False, False, False)),
    ("stdout~", (False, True, False, False)),
    ("stderr~", (True, False, True, True)),
    ("stderr!~", (False, True, False, False)),
    ("stdout_count=2", (False, False, True, False)),
    ("exit<2", (True, True, False, True)),
    ("exit_code != 0", (False, True, True, False)),
    ("@0_success@", (True, False, False, False)),
    ("@0_success@=false", (False, False, True, False)),
    ("@0_exit@!=0", (False, True, True, True)),
    ("@0_stdout@=42", (True, False, False, False)),
    ('@0_stdout@~"|"', (False, False, True, False)),
    ("stdout~@5_stdout@", (False, False, False, False)),
    ("stdout=Status: OK (100%)", (False, False, False, True)),
    ("contains:ready", (True, False, False, False)),
]

Tree = Union[int, Tuple[str, list]]


def reference(tree: Tree, ctx: int) -> bool:
    """Python's own and/or/not over the hand-computed atom truths."""
    if isinstance(tree, int):
        return ATOMS[tree][1][ctx]
    kind, kids = tree
    if kind == "not":
        return not reference(kids[0], ctx)
    values = [reference(k, ctx) for k in kids]
    return all(values) if kind == "and" else any(values)


atom_trees = st.recursive(
    st.integers(0, len(ATOMS) - 1),
    lambda kids: st.one_of(
        st.tuples(st.just("and"), st.lists(kids, min_size=2, max_size=3)),
        st.tuples(st.just("or"), st.lists(kids, min_size=2, max_size=3)),
        st.tuples(st.just("not"), st.lists(kids, min_size=1, max_size=1)),
    ), max_leaves=10)


@st.composite
def rendered(draw, tree: Tree, parent: Optional[str] = None) -> str:
    """Text for a tree: parentheses where precedence needs them, sometimes extra, random spaces."""
    if isinstance(tree, int):
        text = ATOMS[tree][0]
        need = False
    else:
        kind, kids = tree
        if kind == "not":
            text = "!" + draw(rendered(kids[0], "not"))
        else:
            space = draw(st.sampled_from(["", " ", "  "]))
            sep = f"{space}{'&' if kind == 'and' else '|'}{space}"
            text = sep.join(draw(rendered(k, kind)) for k in kids)
        # | inside & or !, & or | inside !, and same-kind nesting keep their grouping
        need = (parent == "not" and kind != "not") or (parent == "and" and kind == "or") \
            or (parent == kind and kind in ("and", "or"))
    if need or draw(st.integers(0, 5)) == 0:
        text = f"({text})"
    return text


@settings(max_examples=400)
@given(st.data(), atom_trees, st.integers(0, len(CONTEXTS) - 1))
def test_evaluator_agrees_with_reference(data, tree: Tree, ctx: int) -> None:
    text = data.draw(rendered(tree))
    current, results = CONTEXTS[ctx]

    def lookup(task_id: int, field: str) -> Optional[str]:
        return results.get(task_id, {}).get(field)

    assert evaluate(parse_condition(text), current, lookup) is reference(tree, ctx), text
