"""A bounded pool for doing the same thing on many hosts at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

T = TypeVar("T")
R = TypeVar("R")
DEFAULT_WORKERS = 8


def parallel(items: Iterable[T], fn: Callable[[T], R], workers: int = DEFAULT_WORKERS) -> list[R]:
    """Run ``fn`` over ``items`` in a bounded pool; results in input order; the first error is raised."""
    items = list(items)
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items)))) as pool:
        futures = [pool.submit(fn, item) for item in items]
        return [f.result() for f in futures]
