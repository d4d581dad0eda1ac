"""`@record` behaves as the `dataclasses` features tasker relies on."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from typing import ClassVar, List, Optional, Tuple

import pytest
from hypothesis import given, strategies as st

from tasker.record import FrozenInstanceError, field, record, replace


@record(frozen=True)
class Point:
    x: int
    y: int = 0
    label: str = field(default="", compare=False)


@record
class Bag:
    items: List[int] = field(default_factory=list)
    name: str = "bag"


@record(frozen=True)
class Derived:
    values: Tuple[int, ...] = ()
    total: Optional[int] = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", sum(self.values))


@record(frozen=True)
class Shouting:
    word: str

    def __repr__(self) -> str:
        return self.word.upper()


@dataclasses.dataclass(frozen=True)
class PointDC:
    x: int
    y: int = 0
    label: str = dataclasses.field(default="", compare=False)


def test_fields_in_order_with_defaults():
    assert Point(1) == Point(1, 0, "") == Point(x=1, label="", y=0)
    assert Point.y == 0  # the default is the class attribute, as with dataclasses


def test_frozen_refuses_assignment_and_deletion():
    p = Point(1, 2)
    with pytest.raises(FrozenInstanceError):
        p.x = 3  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del p.y
    assert p.x == 1


def test_compare_false_fields_do_not_count_for_eq_or_hash():
    assert Point(1, 2, "a") == Point(1, 2, "b")
    assert hash(Point(1, 2, "a")) == hash(Point(1, 2, "b"))
    assert Point(1, 2) != Point(2, 1)
    assert Point(1, 2) != PointDC(1, 2)  # another class is never equal
    assert Point(1, 2) != (1, 2)


def test_mutable_record_is_unhashable_and_factories_are_fresh():
    a, b = Bag(), Bag()
    a.items.append(1)
    assert b.items == [] and a != b
    a.name = "renamed"
    assert a.name == "renamed"
    with pytest.raises(TypeError):
        hash(a)


def test_init_false_and_post_init():
    d = Derived((1, 2, 3))
    assert d.total == 6 and d == Derived((1, 2, 3))
    assert "total" not in repr(d)
    assert replace(d, values=(4,)).total == 4
    with pytest.raises(ValueError):
        replace(d, total=1)


def test_replace_copies_the_other_fields():
    p = Point(1, 2, "l")
    q = replace(p, y=5)
    assert (q.x, q.y, q.label) == (1, 5, "l") and type(q) is Point


def test_repr_like_dataclasses_and_own_methods_kept():
    assert repr(Point(1, 2, "a")) == "Point(x=1, y=2, label='a')"
    assert repr(Shouting("hi")) == "HI"


def test_non_default_after_default_is_refused():
    with pytest.raises(TypeError):
        @record
        class Bad:
            a: int = 1
            b: int


def test_pickle_and_copy_round_trip():
    for value in (Point(1, 2, "a"), Derived((1, 2)), Bag([1])):
        assert pickle.loads(pickle.dumps(value)) == value
        assert copy.deepcopy(value) == value


def test_inheritance_and_class_variables_are_refused():
    with pytest.raises(TypeError):
        @record
        class Child(Point):
            z: int = 0
    with pytest.raises(TypeError):
        @record
        class Counted:
            count: ClassVar[int] = 0


@given(st.integers(), st.integers(), st.text(), st.integers(), st.integers(), st.text())
def test_equality_and_hash_agree_with_a_dataclass(x1, y1, l1, x2, y2, l2):
    ours = Point(x1, y1, l1) == Point(x2, y2, l2)
    theirs = PointDC(x1, y1, l1) == PointDC(x2, y2, l2)
    assert ours == theirs
    if ours:
        assert hash(Point(x1, y1, l1)) == hash(Point(x2, y2, l2))
