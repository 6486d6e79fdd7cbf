"""Typed errors of the React-2-EO store; the web layer maps them to HTTP statuses."""

from __future__ import annotations

__all__ = ["UnknownAnimation"]


class UnknownAnimation(KeyError):
    """A reaction names an animation that is not stored."""

    def __str__(self) -> str:  # KeyError would print the repr of its argument
        return f"unknown animation {self.args[0]!r}" if self.args else "unknown animation"
