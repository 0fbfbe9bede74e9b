"""Progress events the library emits; the CLI renders them (the library never prints)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Progress:
    """One step of a long operation: ``phase`` (e.g. "create"), the subject, and how far the phase is."""

    phase: str
    subject: str
    message: str = ""
    done: int = 0
    total: int = 0


ProgressFn = Callable[[Progress], None]


def no_progress(_: Progress) -> None:
    """The default: nobody is watching."""
