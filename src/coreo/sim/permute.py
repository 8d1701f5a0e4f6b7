"""Keyed permutations of integer ranges: unique identifiers that reveal nothing.

Identifiers the simulator derives from a person's number (customer numbers, phone numbers,
user ids, loyalty cards, order numbers) must be unique, reproducible and must not let a
model recover the person number or link two identifiers of one person by arithmetic.
A four-round Feistel network keyed per identifier kind (BLAKE2b as round function) is a
bijection on a power-of-two domain; cycle-walking restricts it to ``[0, size)``.
"""

from __future__ import annotations

import hashlib

__all__ = ["Permutation"]


class Permutation:
    """A bijection of ``range(size)`` chosen by ``key``."""

    def __init__(self, key: str, size: int) -> None:
        if size < 2:
            raise ValueError("a permutation needs a range of at least two numbers")
        self.size = size
        bits = max(2, (size - 1).bit_length())
        bits += bits % 2  # two equal halves
        self._half = bits // 2
        self._mask = (1 << self._half) - 1
        self._keys = tuple(
            hashlib.blake2b(f"{key}:{r}".encode(), digest_size=16).digest() for r in range(4)
        )

    def _round(self, value: int, index: int) -> int:
        digest = hashlib.blake2b(
            value.to_bytes(8, "big"), key=self._keys[index], digest_size=8
        ).digest()
        return int.from_bytes(digest, "big") & self._mask

    def _encrypt(self, value: int) -> int:
        left, right = value >> self._half, value & self._mask
        for index in range(4):
            left, right = right, left ^ self._round(right, index)
        return (left << self._half) | right

    def __call__(self, value: int) -> int:
        """Return the image of ``value`` (``0 <= value < size``)."""
        if not 0 <= value < self.size:
            raise ValueError(f"{value} is outside the permuted range 0..{self.size - 1}")
        result = self._encrypt(value)
        while result >= self.size:  # cycle-walk back into range
            result = self._encrypt(result)
        return result
