"""``python -m fdl.doctor``: what fdl sees on this machine, to paste when asking for help.

Versions (Python, NumPy, JAX, jaxlib, optax, chex), the devices JAX sees and
whether a Pallas kernel compiles there or runs in interpret mode, which data
sets are on disk, where progress.toml is, and the built topics.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import sys
from typing import Any

__all__ = ["collect", "main"]


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _pallas_probe() -> dict[str, Any]:
    """Run a one-line Pallas kernel: compiled where the backend allows, else interpreted."""
    try:
        import jax
        import jax.numpy as jnp
        from jax.experimental import pallas as pl
    except Exception as exc:  # an old or broken JAX install
        return {"available": False, "mode": None, "detail": f"{type(exc).__name__}: {exc}"}

    def add_one(x_ref, o_ref):
        o_ref[...] = x_ref[...] + 1

    x = jnp.arange(8, dtype=jnp.float32)
    shape = jax.ShapeDtypeStruct(x.shape, x.dtype)
    try:
        out = pl.pallas_call(add_one, out_shape=shape)(x)
        if bool(jnp.all(out == x + 1)):
            return {"available": True, "mode": "compiled", "detail": f"compiles on {jax.default_backend()}"}
    except Exception as exc:
        compiled_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
    else:
        compiled_error = "compiled kernel gave a wrong result"
    try:
        out = pl.pallas_call(add_one, out_shape=shape, interpret=True)(x)
        ok = bool(jnp.all(out == x + 1))
        return {"available": ok, "mode": "interpret" if ok else None,
                "detail": f"interpret mode (kernels run, slowly); compiling: {compiled_error}"}
    except Exception as exc:
        return {"available": False, "mode": None, "detail": f"{type(exc).__name__}: {exc}"}


def collect() -> dict[str, Any]:
    """Everything the doctor reports, as plain data."""
    from .curriculum import TOPICS
    from .progress import ENV_VAR, progress_path

    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "executable": sys.executable,
        "packages": {p: _version(p) for p in ("fdl", "numpy", "jax", "jaxlib", "optax", "chex", "tomlkit",
                                              "rich", "matplotlib")},
    }
    try:
        import jax

        info["jax"] = {
            "backend": jax.default_backend(),
            "devices": [f"{d.platform}:{d.id} {getattr(d, 'device_kind', '')}".strip() for d in jax.devices()],
            "x64_default": bool(jax.config.jax_enable_x64),
        }
    except Exception as exc:
        info["jax"] = {"error": f"{type(exc).__name__}: {exc}"}
    info["pallas"] = _pallas_probe()
    try:
        from .data import data_dir, dataset_status

        info["data"] = {"dir": str(data_dir()), "files": dataset_status()}
    except Exception as exc:  # the data layer must never stop the doctor
        info["data"] = {"error": f"{type(exc).__name__}: {exc}"}
    from .jaxcache import compilation_cache_dir

    cache = compilation_cache_dir()
    info["jax_compilation_cache"] = str(cache) if cache else "off (FDL_JAX_CACHE=0)"
    path = progress_path()
    info["progress"] = {"path": str(path), "exists": path.exists(),
                        "from": ENV_VAR if os.environ.get(ENV_VAR) else "default"}
    info["topics"] = {"built": [t.number for t in TOPICS if t.built], "total": len(TOPICS)}
    return info


def _data_row(entry: dict[str, Any]) -> str:
    """``mnist  train-images-idx3-ubyte.gz  found (not verified) in the cache: /path (9,912,422 bytes)``."""
    head = f"{entry['dataset']}  {entry['file']}  {entry['status']}"
    if entry.get("path"):
        place = {"local": "on this machine", "cache": "in the cache"}.get(entry.get("where"), "at")
        head += f" {place}: {entry['path']}"
    details = [entry["detail"]] if entry.get("detail") else []
    if entry.get("size") and entry["status"] != "wrong size":
        details.append(f"{entry['size']:,} bytes")
    return head + (f" ({'; '.join(details)})" if details else "")


def render(info: dict[str, Any], console) -> None:
    console.print("[bold]fdl doctor[/]")
    console.print(f"python   {info['python']}  ({info['executable']})")
    console.print(f"platform {info['platform']}")
    console.print("packages " + ", ".join(f"{k} {v}" for k, v in info["packages"].items()))
    jax_info = info["jax"]
    if "error" in jax_info:
        console.print(f"[red]jax      {jax_info['error']}[/]")
    else:
        console.print(f"jax      backend {jax_info['backend']}; devices: {', '.join(jax_info['devices'])}")
    console.print(f"compile  cache {info['jax_compilation_cache']}")
    pallas = info["pallas"]
    color = "green" if pallas["mode"] == "compiled" else ("yellow" if pallas["available"] else "red")
    console.print(f"pallas   [{color}]{pallas['mode'] or 'unavailable'}[/]: {pallas['detail']}")
    data = info["data"]
    if "error" in data:
        console.print(f"[red]data     {data['error']}[/]")
    else:
        console.print(f"data     cache {data['dir']}")
        for entry in data["files"]:
            console.print("         " + _data_row(entry), highlight=False, soft_wrap=True)
    progress = info["progress"]
    console.print(f"progress {progress['path']} ({'exists' if progress['exists'] else 'not created yet'}, "
                  f"from {progress['from']})")
    built = info["topics"]["built"]
    console.print(f"topics   {len(built)} of {info['topics']['total']} built: {', '.join(f'{n:02d}' for n in built)}")


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    parser = argparse.ArgumentParser(prog="python -m fdl.doctor", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    info = collect()
    if args.json:
        print(json.dumps(info, indent=2, default=str))
    else:
        render(info, Console(highlight=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
