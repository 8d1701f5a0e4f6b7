"""Keyed permutations: bijective, key-dependent, in range."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coreo.sim.permute import Permutation


@given(size=st.integers(2, 3000), key=st.text(max_size=10))
def test_is_a_bijection_of_the_range(size: int, key: str) -> None:
    permutation = Permutation(key, size)
    assert sorted(permutation(v) for v in range(size)) == list(range(size))


def test_depends_on_the_key_and_hides_order() -> None:
    a, b = Permutation("erp", 10**6), Permutation("phone", 10**6)
    first = [a(v) for v in range(1, 50)]
    assert first != [b(v) for v in range(1, 50)]
    assert first != sorted(first)
    assert len({y - x for x, y in itertools.pairwise(first)}) > 40  # not linear


def test_refuses_values_outside_the_range() -> None:
    with pytest.raises(ValueError, match="outside"):
        Permutation("k", 10)(10)
