"""labsim's cache on the host: what can be derived again from an image, kept under the image's ID
(an image's content never changes under its ID, so an entry never goes stale)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """$LABSIM_CACHE_DIR, else $XDG_CACHE_HOME/labsim, else ~/.cache/labsim."""
    if os.environ.get("LABSIM_CACHE_DIR"):
        return Path(os.environ["LABSIM_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "labsim"


def stock_cache(image_id: str) -> Path:
    """Where the stock files of one image are kept, mirroring their paths in the image."""
    return cache_dir() / "stock" / image_id.split(":", 1)[-1]
