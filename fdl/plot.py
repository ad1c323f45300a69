"""The one plotting helper: matplotlib without a display, figures saved as PNG."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["figure", "save_figure", "line_plot"]


def _pyplot():
    import matplotlib

    if not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")  # no display needed: runs happen in terminals and CI
    import matplotlib.pyplot as plt

    return plt


def figure(nrows: int = 1, ncols: int = 1, *, size: tuple[float, float] | None = None, **kwargs):
    """``(fig, axes)`` like ``plt.subplots``, sized for a PNG that reads well."""
    plt = _pyplot()
    size = size or (5.0 * ncols, 3.8 * nrows)
    return plt.subplots(nrows, ncols, figsize=size, **kwargs)


def save_figure(fig, path: str | os.PathLike) -> Path:
    """Save ``fig`` to ``path`` (PNG, 120 dpi), creating folders, then close it."""
    plt = _pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def line_plot(ax, series: dict[str, tuple], *, title: str = "", xlabel: str = "", ylabel: str = "",
              logy: bool = False) -> None:
    """Draw ``{label: (x, y)}`` curves on ``ax`` with a legend."""
    for label, (x, y) in series.items():
        ax.plot(x, y, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if series:
        ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
