"""The one plotting helper: matplotlib without a display, figures saved as PNG."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["figure", "save_figure", "line_plot", "value_grid"]


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


def value_grid(ax, values, title: str, *, top: float = 8.0, fontsize: float = 10) -> None:
    """An array as a grid of cells coloured from -top (blue) to +top (red), each labelled with its value.

    A lesson's worked example drawn so that every number in it can be read off the picture.
    """
    import numpy as np

    values = np.atleast_2d(values) + 0.0  # + 0.0 turns -0.0 into 0.0 for the labels
    ax.imshow(values, cmap="RdBu_r", vmin=-top, vmax=top)
    for (r, c), v in np.ndenumerate(values):
        ax.text(c, r, f"{v:g}", ha="center", va="center", fontsize=fontsize)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=fontsize - 1)
