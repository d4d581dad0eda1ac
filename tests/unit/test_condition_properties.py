"""Property tests: print/parse round trip, robustness on random text, evaluator vs a reference."""

from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple, Union

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
    Expr,
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
    plain_comparison,
    walk,
)
from tasker.syntax.condition_lark import parse_text, terminal_regex
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


# ---- conditions built from the grammar's own pieces -------------------------------------
# Each piece is drawn from the regular expression of one of the grammar's terminals, read
# from the parser itself, and the pieces are put together along the grammar's rules, so the
# texts follow the grammar as it is, not a list written beside it.

# Printable ASCII, tab and a non-ASCII letter, without parentheses: the nested PAREN
# alternatives of VALUE make generation slow, so groups in values come from `grouped`.
ALPHABET = st.sampled_from([chr(c) for c in range(32, 127) if chr(c) not in "()"] + ["\t", "é"])


def piece(name: str) -> st.SearchStrategy[str]:
    """Text matched by the grammar's terminal `name` (cut short: a few may grow long)."""
    return st.from_regex(terminal_regex(name), fullmatch=True, alphabet=ALPHABET).map(
        lambda text: text[:24])


blank = st.one_of(st.just(""), piece("WS"))
result_ref = st.builds(lambda n, f: f"@{n}_{f}@", st.integers(0, 999),
                       st.sampled_from(sorted(RESULT_FIELDS)).map(
                           lambda f: f.upper() if len(f) % 2 else f))
plain_value = st.one_of(piece("VALUE"), result_ref)
grouped = st.tuples(plain_value, plain_value, plain_value).map(lambda p: f"{p[0]}({p[1]}){p[2]}")
value_piece = st.one_of(plain_value, grouped, piece("QUOTED"), piece("QUOTED_RUN"),
                        piece("UNCLOSED_QUOTED"))
operand_piece = st.one_of(piece("EXIT_OPERAND"), piece("STREAM_FIELD"), piece("TEXT"),
                          result_ref)
compare_op, match_op = piece("COMPARE_OP"), piece("MATCH_OP")


def tokens(*parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """The parts in order, with blanks (the grammar's ignored WS) around each."""
    spaced = []
    for part in parts:
        spaced.extend([blank, part])
    return st.tuples(*spaced, blank).map("".join)


optional_value = st.one_of(st.just(""), value_piece)
grammar_atoms = st.one_of(
    tokens(piece("EXIT_TEST")), tokens(piece("SUCCESS")), tokens(piece("BOOLEAN")),
    tokens(piece("STREAM"), match_op, optional_value),                       # output_match
    tokens(piece("STREAM_COUNT"), compare_op, piece("COUNT")),               # line_count
    tokens(piece("STREAM_COUNT"), st.one_of(compare_op, match_op), value_piece),
    tokens(piece("CONTAINS"), optional_value),                               # legacy_contains
    tokens(st.one_of(piece("STREAM"), operand_piece), compare_op, optional_value),
    tokens(operand_piece, match_op, optional_value),                         # comparison
    tokens(st.one_of(piece("PLACEHOLDERS"), result_ref)),                    # bare_operand
    tokens(piece("MULTI_WORD")), tokens(piece("MULTI_COUNT"), compare_op, piece("COUNT")),
    tokens(piece("TEXT")),                                                   # unrecognised
)
joiner = st.sampled_from(["&", "|", ","])  # "," is the grammar's COMMA, an error between tests
grammar_conditions = st.recursive(grammar_atoms, lambda kids: st.one_of(
    st.tuples(kids, joiner, kids).map("".join),
    kids.map(lambda text: f"({text})"),
    kids.map(lambda text: f"!{text}"),
), max_leaves=6)


@settings(max_examples=300)
@given(grammar_conditions)
def test_conditions_from_grammar_pieces_parse_back_or_fail_located(text: str) -> None:
    check_text(text, parse_condition)
    check_text(text, parse_block_condition)


def same(a: object, b: object) -> bool:
    """Equal trees with equal columns on every node (columns do not take part in ==)."""
    return a == b and [getattr(n, "column", None) for n in walk(a)] == \
        [getattr(n, "column", None) for n in walk(b)]


# A value with a comma in it, followed by a test or by other text (issue 16: a comma
# before a test is an operator error once the value has started, else it is text).
after_comma = st.one_of(plain_value, piece("TEXT"), result_ref, piece("EXIT_TEST"),
                        piece("EXIT_OPERAND"), piece("STREAM"), piece("STREAM_COUNT"),
                        piece("SUCCESS"), piece("MULTI_COUNT"), st.just("failure"))
comma_value = st.tuples(st.one_of(st.just(""), plain_value), st.sampled_from([",", ", ", ",\t"]),
                        after_comma).map("".join)


def outcome(parse: Callable[[str], Expr], text: str) -> object:
    """The tree (with its columns) or the error's column and message."""
    try:
        tree = parse(text)
    except ConditionError as err:
        return ("error", err.column, err.message)
    return (tree, [getattr(n, "column", None) for n in walk(tree)])


# Left operands for the fast path's test: every terminal that can start a condition, alone
# or with plain text glued to it (`exit_0x`, `stdoutx`, `truex`), as well as plain words.
keyword_pieces = st.one_of(*(piece(name) for name in (
    "EXIT_TEST", "SUCCESS", "BOOLEAN", "MULTI_WORD", "PLACEHOLDERS", "EXIT_OPERAND", "STREAM",
    "STREAM_COUNT", "MULTI_COUNT", "STREAM_FIELD", "CONTAINS")))
left_piece = st.one_of(
    result_ref, operand_piece, keyword_pieces,
    st.tuples(keyword_pieces, st.one_of(piece("TEXT"), result_ref)).map("".join),
    st.tuples(piece("TEXT"), result_ref).map("".join),
)


@settings(max_examples=1000)
@given(tokens(left_piece, st.one_of(compare_op, match_op), st.one_of(optional_value, comma_value)))
def test_the_fast_path_builds_what_the_grammar_builds(text: str) -> None:
    """Wherever the one hand-written fast path answers, Lark gives the same tree."""
    fast = plain_comparison(text)
    if fast is None:
        return
    try:
        slow = parse_text(text)
    except ConditionError as err:  # the grammar rejects it: the fast path must not accept it
        raise AssertionError(f"fast path accepted {text!r}; the grammar says {err}") from None
    assert same(fast, slow), (text, fast, slow)


@settings(max_examples=300)
@given(tokens(st.one_of(result_ref, piece("TEXT")), st.one_of(compare_op, match_op), comma_value))
def test_a_comma_in_a_plain_comparison_reads_as_the_grammar_reads_it(text: str) -> None:
    """Fast path first or Lark alone: the same tree, or the same error at the same column."""
    assert outcome(parse_condition, text) == outcome(parse_text, text), text


def test_the_fast_path_takes_the_usual_comparisons() -> None:
    for text in ("@41_exit@=0", " @3_stdout@ ~ ready now ", "@2_EXIT_CODE@!=3", "@1_exit@=",
                 "@0_success@=true", "@7_stderr@!~error: x=1", "production=production",
                 "@ENV@=prod", "true=1", "success_rate>2", "@1_exitx@=0",
                 "1.5<=2.0", "a==b"):
        assert plain_comparison(text) is not None, text
        assert same(plain_comparison(text), parse_text(text)), text
    for text in ("@1_exit@=a|b", "@1_exit@=(x)", "@1_exit@='q'", "@1_exit@=é", "exit_0",
                 "@1_exit@=0&exit_0", "exit=0", "Stdout~ok", "stdout_count>2", "min_success=1",
                 "contains:x=1", "my env=prod", "a,b=c", "!a=b", "exit_0=1"):
        assert plain_comparison(text) is None, text


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
