"""The lesson's figures, drawn from the reference: ``python -m fdl.lessons NN`` writes them under figures/."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fdl.plot import figure, save_figure


def make_figures(out_dir: Path) -> list[Path]:
    from tracks._template import reference as R  # in a topic: from tracks.tNN_slug import reference as R

    x = np.linspace(-2, 2, 101)
    out, cache = R.square_forward(x)
    fig, ax = figure()
    ax.plot(x, out, label="x^2")
    ax.plot(x, R.square_backward(np.ones_like(x), cache), label="its derivative")
    ax.set_xlabel("x")
    ax.legend()
    return [save_figure(fig, Path(out_dir) / "example.png")]
