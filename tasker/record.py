"""`@record`: the part of `dataclasses` tasker uses, at a fraction of the cost to define.

Every `tasker` command defines some sixty value classes before it reads its task
file. As dataclasses they cost about 15 ms more of a 75 ms `--validate-only`
start-up, even with Lark imported (Lark imports `dataclasses` and `inspect`
itself): the decorator compiles five or six methods per class, a record compiles
only its `__init__` (the method that must be fast: a large file builds tens of
thousands of AST nodes) and shares plain functions for equality, hashing and repr.

The semantics are the dataclass's, for the features tasker uses: annotations in
class order, defaults, `field(default=, default_factory=, init=, repr=, compare=)`,
`__post_init__`, `frozen=True` (assignment raises `FrozenInstanceError`, an
AttributeError; a frozen record's `__init__` writes its `__dict__` directly),
value equality over the compared fields, a hash for frozen records (none for
mutable ones, as `eq` without `frozen`) and `replace()`. No inheritance between
records, no `ClassVar` fields. Type checkers see `dataclasses` itself (the
aliases at the end), so they check constructor calls, `replace` and frozen fields.
"""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple, TypeVar, Union

__all__ = ["MISSING", "Field", "FrozenInstanceError", "field", "record", "replace"]

T = TypeVar("T")


class FrozenInstanceError(AttributeError):
    """Assignment to a field of a frozen record."""


class _Missing:
    """No default given (None is a real default)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class Field:
    """One field of a record: its name and how `__init__`, repr and `==` treat it."""

    __slots__ = ("name", "default", "default_factory", "init", "repr", "compare")

    def __init__(self, default: Any = MISSING, default_factory: Any = MISSING, init: bool = True,
                 repr: bool = True, compare: bool = True) -> None:  # noqa: A002 (dataclasses' name)
        if default is not MISSING and default_factory is not MISSING:
            raise ValueError("a field cannot have both a default and a default_factory")
        self.name = ""
        self.default, self.default_factory = default, default_factory
        self.init, self.repr, self.compare = init, repr, compare


def _field(*, default: Any = MISSING, default_factory: Any = MISSING, init: bool = True,
           repr: bool = True, compare: bool = True) -> Any:  # noqa: A002
    """A field with more than a plain default (as `dataclasses.field`)."""
    return Field(default, default_factory, init, repr, compare)


def _record(cls: Optional[type] = None, *,
            frozen: bool = False) -> Union[type, Callable[[type], type]]:
    """Class decorator: `@record` or `@record(frozen=True)`, like `@dataclass`."""
    def wrap(c: type) -> type:
        return _process(c, frozen)
    return wrap if cls is None else wrap(cls)


def _replace(obj: T, **changes: Any) -> T:
    """A copy of record `obj` with some fields changed (`__post_init__` runs again)."""
    for f in obj.__record_fields__:  # type: ignore[attr-defined]
        if not f.init:
            if f.name in changes:
                raise ValueError(f"field {f.name} is not an __init__ argument")
        elif f.name not in changes:
            changes[f.name] = getattr(obj, f.name)
    return obj.__class__(**changes)


# ---- building the class ---------------------------------------------------------------------
def _process(cls: type, frozen: bool) -> type:
    found = _collect_fields(cls)
    key = _key([f.name for f in found if f.compare])
    methods: Dict[str, Any] = {"__record_fields__": tuple(found),
                               "__hash__": _make_hash(key) if frozen else None}
    own = cls.__dict__
    if "__init__" not in own:
        methods["__init__"] = _make_init(cls, found, frozen)
    if "__repr__" not in own:
        methods["__repr__"] = _make_repr([f.name for f in found if f.repr])
    if "__eq__" not in own:
        methods["__eq__"] = _make_eq(key)
    if frozen:
        methods.update(__setattr__=_refuse_set, __delattr__=_refuse_del)
    for name, value in methods.items():
        setattr(cls, name, value)
    return cls


def _collect_fields(cls: type) -> List[Field]:
    """This class's annotations in order, each with its default or `field()`."""
    if any(hasattr(base, "__record_fields__") for base in cls.__mro__[1:]):
        raise TypeError(f"{cls.__name__}: a record cannot inherit from a record")
    found = []
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if "ClassVar" in str(annotation):
            raise TypeError(f"{cls.__name__}.{name}: a record has no ClassVar fields")
        value = cls.__dict__.get(name, MISSING)
        f = value if isinstance(value, Field) else Field(default=value)
        f.name = name
        if f.default is MISSING:
            if name in cls.__dict__:
                delattr(cls, name)  # (a field() with a factory or no default)
        else:
            setattr(cls, name, f.default)  # class attribute = default, as dataclasses does
        found.append(f)
    _check_default_order(cls, found)
    return found


def _check_default_order(cls: type, found: List[Field]) -> None:
    seen_default = False
    for f in found:
        if not f.init:
            continue
        has_default = f.default is not MISSING or f.default_factory is not MISSING
        if seen_default and not has_default:
            raise TypeError(f"{cls.__name__}: non-default argument {f.name!r} follows a "
                            "default argument")
        seen_default = seen_default or has_default


def _make_init(cls: type, found: List[Field], frozen: bool) -> Callable[..., None]:
    """Compile `__init__(self, a, b=_default_b, ...)` for the fields, in one exec."""
    params, body = [], ["    d = self.__dict__"] if frozen else []
    namespace: Dict[str, Any] = {"_MISSING": MISSING}
    for f in found:
        source = f.name
        if f.default is not MISSING:
            namespace[f"_default_{f.name}"] = f.default
            if not f.init:
                source = f"_default_{f.name}"
        elif f.default_factory is not MISSING:
            namespace[f"_factory_{f.name}"] = f.default_factory
            source = (f"_factory_{f.name}() if {f.name} is _MISSING else {f.name}" if f.init
                      else f"_factory_{f.name}()")
        if f.init:
            params.append(f.name if f.default is MISSING and f.default_factory is MISSING
                          else f"{f.name}=_default_{f.name}" if f.default is not MISSING
                          else f"{f.name}=_MISSING")
        body.append(f"    d[{f.name!r}] = {source}" if frozen else f"    self.{f.name} = {source}")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    source = (f"def __init__(self, {', '.join(params)}):\n" + "\n".join(body or ["    pass"])
              + "\n")
    exec(source, namespace)  # noqa: S102  (our generated source, as dataclasses does)
    init: Callable[..., None] = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


def _key(names: List[str]) -> Callable[[Any], Tuple[Any, ...]]:
    """The values `==` and `hash` look at, as a tuple."""
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    many: Callable[[Any], Tuple[Any, ...]] = attrgetter(*names)
    return many


def _make_repr(names: List[str]) -> Callable[[Any], str]:
    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{self.__class__.__qualname__}({inner})"
    return __repr__


def _make_eq(key: Callable[[Any], Tuple[Any, ...]]) -> Callable[[Any, Any], Any]:
    def __eq__(self: Any, other: Any) -> Any:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self is other or key(self) == key(other)
    return __eq__


def _make_hash(key: Callable[[Any], Tuple[Any, ...]]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(key(self))
    return __hash__


def _refuse_set(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _refuse_del(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


# Type checkers read the dataclass machinery they already understand (Python 3.9 has no
# `dataclass_transform`); at run time the names are the cheap functions above.
if TYPE_CHECKING:
    from dataclasses import dataclass as record, field, replace
else:
    record, field, replace = _record, _field, _replace
