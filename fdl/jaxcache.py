"""JAX's persistent compilation cache, so a check's oracles compile once per machine.

A check compiles each oracle once per input shape; without a persistent cache
every ``python -m fdl.run`` pays that again (several seconds a topic). The
cache lives in ``$FDL_JAX_CACHE`` or ``<user cache>/fdl/jax``; setting
``FDL_JAX_CACHE=0`` turns it off.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["compilation_cache_dir", "enable_compilation_cache", "enabled_cache_dir"]

_OFF = ("0", "off", "false", "no")
_ENABLED: Path | None = None


def enabled_cache_dir() -> Path | None:
    """The cache folder this process turned on, if it did (the checking process then uses it too)."""
    return _ENABLED


def compilation_cache_dir() -> Path | None:
    setting = os.environ.get("FDL_JAX_CACHE", "").strip()
    if setting.lower() in _OFF:
        return None
    if setting:
        return Path(setting).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fdl" / "jax"


def enable_compilation_cache() -> Path | None:
    """Point JAX at the cache (every compilation is kept, however quick); returns its folder."""
    path = compilation_cache_dir()
    if path is None:
        return None
    try:
        import jax

        path.mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", str(path))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    except (OSError, AttributeError, ValueError):  # a read-only home, an older JAX: run without it
        return None
    global _ENABLED
    _ENABLED = path
    return path
