"""Condition expressions: text -> frozen AST, and the AST back to text.

The grammar is `grammars/condition.lark` and Lark parses every condition
(tasker.syntax.condition_lark, imported when the first condition needs it) but
one shape, a plain word compared with a plain value, which `plain_comparison`
reads to the same tree. Parses are memoised by text: a large file repeats the
same few conditions.
Globals were substituted into the text before it gets here; task results
(`@N_field@`) stay in the AST as `Ref` parts of a `Template` and are bound only
at evaluation (tasker.engine.evaluate), so an output holding `&` or `|` can
never change an expression's structure.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import List, Optional, Tuple, Type, Union

from tasker.syntax.condition_ast import (
    MAX_DEPTH,
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
    Node,
    Not,
    Operand,
    Or,
    OutputMatch,
    Ref,
    StreamField,
    StreamValue,
    Success,
    Template,
    placeholders,
    template,
    walk,
)


def parse_condition(text: str) -> Expr:
    """Parse a task condition (`success=`, `condition=`, `next=`, ...); raise ConditionError."""
    return parsed(text, False)


def parse_block_condition(text: str) -> Expr:
    """Parse a block's `success=`/`next=`: conditions plus the multi-task forms of II.5.3."""
    return parsed(text, True)


# Unbounded: only a task file's own condition texts are parsed, and its tasks keep the
# trees anyway. An error is not memoised (lru_cache stores results only): it is raised
# again from a new parse, which only a file with that mistake pays for.
@lru_cache(maxsize=None)
def parsed(text: str, allow_block: bool) -> Expr:
    """The memoised parse both entry points share: grammar, then the checks it cannot express."""
    if not text.strip():
        raise ConditionError("empty condition", 1, "write a condition such as exit_0")
    quick = plain_comparison(text)
    if quick is not None:
        return quick
    from tasker.syntax.condition_lark import parse_text  # Lark loads with the first condition

    expr = parse_text(text)
    _check(expr, allow_block)
    return expr


# The one hand-written fast path. A large file compares one task result per task
# (`@41_exit@=0`, `@3_stdout@~ready`): every text differs, so memoising does not help,
# and Lark takes 30-50 microseconds for each (bench/bench_validate.py: 10,000 of them
# cost more than the rest of the validation). A small file's first such condition would
# make Lark build the condition grammar, 45-50 ms of a start-up budget of about 100
# (`@ENVIRONMENT@=production`, plain text once the global is substituted).
# This regex reads that one atom, LEFT OP VALUE, when it is plain ASCII: the left
# operand is one word that is no keyword of the grammar (`exit`, `stdout`, `stderr`,
# a count, `contains:`; the words that must stand alone cannot, before an operator),
# blanks are spaces and tabs, the value has no quotes, & | ( ), no comma (where one is
# an operator error is the grammar's to say) and no blanks at its ends. Anything else
# goes to the grammar; a property test (tests/unit/test_condition_properties.py)
# checks that both build the same tree.
_PLAIN = r"!#-%*+\-.-{}~"  # printable ASCII but blanks, quotes, & | ( ) and ','
_WORD = r"#-%*+\-.-;?-{}"  # the same without the operator characters ! = ~ < >
_KEYWORD = r"(?i:exit|stdout|stderr|min_|max_|(?:not_)?contains:)"
_PLAIN_COMPARISON = re.compile(
    rf"[ \t]*(?P<left>(?!{_KEYWORD})[{_WORD}]+)[ \t]*"
    rf"(?P<op>!=|<=|>=|=|<|>|!~|~)[ \t]*(?P<value>[{_PLAIN}](?:[ \t{_PLAIN}]*[{_PLAIN}])?)?"
    rf"[ \t]*")


def plain_comparison(text: str) -> Optional[Comparison]:
    """The tree of `LEFT OP value` (one plain word, a plain value) as the grammar builds
    it, or None for other texts."""
    m = _PLAIN_COMPARISON.fullmatch(text)
    if m is None:
        return None
    column = m.start("left") + 1
    value = m.group("value")
    right = template(value, m.start("value") + 1) if value else Template(())
    return Comparison(template(m.group("left"), column), m.group("op"), right, column)


def _check(expr: Expr, allow_block: bool) -> None:
    """Reject block-only forms outside blocks and nesting deep enough to hit recursion limits."""
    stack: List[Tuple[Expr, int]] = [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ConditionError(f"condition nested deeper than {MAX_DEPTH} levels",
                                 node.column, "simplify the expression")
        if isinstance(node, (Or, And)):
            stack.extend((item, depth + 1) for item in reversed(node.items))
        elif isinstance(node, Not):
            stack.append((node.operand, depth + 1))
        elif isinstance(node, MultiTask) and not allow_block:
            raise ConditionError(f"'{node.kind}' is a block condition", node.column,
                                 "only valid in success=/next= of a parallel or conditional "
                                 "block")


# ---- printer -----------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _value_pattern() -> "re.Pattern[str]":
    """The grammar's own VALUE regex, so the printer quotes exactly when the lexer needs it."""
    from tasker.syntax.condition_lark import terminal_regex

    return terminal_regex("VALUE")


def _format_value(t: Optional[Template]) -> str:
    """A value as it must be written after an operator: bare when possible, else quoted."""
    text = "" if t is None else t.text()
    if not text or (_value_pattern().fullmatch(text) and text[0] not in "=~<>!"):
        return text
    # Always double quotes (escaped inside): a single-quoted value printed after a value
    # that kept a lone `'` as written (`stdout_count!='`) would pair with it when read back.
    return '"' + text.replace('"', '\\"') + '"'


def _format_operand(op: Operand) -> str:
    """A comparison's left operand."""
    if isinstance(op, ExitCode):
        return "exit"
    if isinstance(op, StreamValue):
        return op.stream
    if isinstance(op, StreamField):
        return f"{op.stream}:{op.delimiter},{op.index}"
    return op.text()


def _grouped(expr: Expr, wrap: Tuple[Union[Type[Or], Type[And]], ...]) -> str:
    """Format a sub-expression, in parentheses when it binds looser than its parent."""
    text = format_condition(expr)
    return f"({text})" if isinstance(expr, wrap) else text


def format_condition(expr: Expr) -> str:
    """Print an expression in canonical form; parsing the result gives back an equal AST."""
    if isinstance(expr, Or):
        return "|".join(_grouped(e, (Or,)) for e in expr.items)
    if isinstance(expr, And):
        return "&".join(_grouped(e, (Or, And)) for e in expr.items)
    if isinstance(expr, Not):
        return "!" + _grouped(expr.operand, (Or, And))
    if isinstance(expr, ExitTest):
        return f"exit_{expr.code}"
    if isinstance(expr, ExitNotZero):
        return "exit_not_0"
    if isinstance(expr, Success):
        return "success"
    if isinstance(expr, BoolLiteral):
        return "true" if expr.value else "false"
    if isinstance(expr, OutputMatch):
        return f"{expr.stream}{'!~' if expr.negated else '~'}{_format_value(expr.pattern)}"
    if isinstance(expr, LineCount):
        count = expr.written if expr.count is None else expr.count
        return f"{expr.stream}_count{expr.op}{count}"
    if isinstance(expr, Contains):
        return f"{'not_' if expr.negated else ''}contains:{_format_value(expr.text)}"
    if isinstance(expr, Comparison):
        return f"{_format_operand(expr.left)}{expr.op}{_format_value(expr.right)}"
    if isinstance(expr, BareOperand):
        return expr.value.text()
    if isinstance(expr, MultiTask):
        return expr.kind if expr.count is None else f"{expr.kind}={expr.count}"
    raise TypeError(f"not a condition node: {expr!r}")


__all__ = [
    "ConditionError", "parse_condition", "parse_block_condition", "parsed", "format_condition",
    "placeholders", "walk", "Node", "Expr", "Operand", "MAX_DEPTH", "And", "Or", "Not",
    "BareOperand", "BoolLiteral", "Comparison", "Contains", "ExitCode", "ExitNotZero",
    "ExitTest", "LineCount", "MultiTask", "OutputMatch", "Ref", "StreamField", "StreamValue",
    "Success", "Template",
]
