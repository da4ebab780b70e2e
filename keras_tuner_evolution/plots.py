"""Figures of a `History`: fitness by generation, and the family tree of a trial; and the
scores of a search without generations, trial by trial.

matplotlib is imported on first use, and its Agg backend is chosen when a figure is only saved,
so plots work without a display. `History.plot`, `History.plot_lineage` and `kte show --plot`
call these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from keras_tuner_evolution import scores as scores_lib

if TYPE_CHECKING:  # history.py imports this module lazily; no cycle at run time
    from keras_tuner_evolution.history import History

# Lineage nodes: their area (points^2), and their marker by origin as named in the legend.
_NODE_SIZE = 420
_SHAPES = (("o", "child"), ("s", "random / initial"))


def _pyplot(show: bool) -> Any:
    """matplotlib's pyplot, with the Agg backend when the figure is not shown."""
    import matplotlib

    if not show:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def finish(fig: Any, path: str | None, show: bool) -> Any:
    """Lays out, saves (when given a path) and shows or closes a figure; returns it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    if show:
        plt.show()
    else:
        plt.close(fig)  # a figure left open leaks in long searches and notebooks
    return fig


def plot_evolution(
    history: History,
    path: str | None = None,
    title: str = "Fitness by generation",
    ylabel: str = "Fitness",
    show: bool = False,
) -> Any:
    """Draws each generation's spread of scores, its mean and its best.

    The bands are drawn from the scores observed, never from mean ± std (which runs past the
    scores, above 1.0 for an accuracy): a light band from the worst to the best score of each
    generation and a darker one over its middle half (25th to 75th percentile, interpolated
    between observed scores). A generation without a completed score is left out. Markers,
    line widths and x ticks adapt to the number of generations, from one to hundreds.

    Args:
        history: The search's `History`.
        path: Where to save the figure (PNG by extension); None to not save.
        title: Figure title.
        ylabel: Label of the y axis.
        show: Also open a window (needs a display).

    Returns:
        The matplotlib `Figure`.
    """
    import numpy as np

    plt = _pyplot(show)
    rows = [(g.index, g.completed_scores) for g in history.generations if g.completed_scores]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    if rows:
        x = np.array([index for index, _ in rows], dtype=float)
        quantiles = np.array([np.percentile(s, [0, 25, 75, 100]) for _, s in rows])
        mean = [float(np.mean(s)) for _, s in rows]
        best = [scores_lib.best(s, history.direction) for _, s in rows]
        band_x = np.array([x[0] - 0.3, x[0] + 0.3]) if len(x) == 1 else x
        band = quantiles.repeat(2, axis=0) if len(x) == 1 else quantiles
        ax.fill_between(band_x, band[:, 0], band[:, 3], alpha=0.12, color="C0", label="min – max")
        ax.fill_between(
            band_x, band[:, 1], band[:, 2], alpha=0.3, color="C0", label="25th – 75th percentile"
        )
        style = _line_style(len(x))
        ax.plot(x, mean, marker="o", color="C0", label="mean", **style)
        ax.plot(x, best, marker="^", color="C1", label=history.direction, **style)
        ax.legend(loc="best", fontsize=8)
        _generation_axis(ax, x)
    ax.set_title(title)
    ax.set_xlabel("Generation")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return finish(fig, path, show)


def _line_style(points: int) -> dict[str, float]:
    """Markers and line width for a line of `points` points: markers fade out past 40."""
    if points <= 15:
        return {"markersize": 6, "linewidth": 1.8}
    if points <= 40:
        return {"markersize": 3.5, "linewidth": 1.4}
    return {"markersize": 0, "linewidth": 1.2}


def _generation_axis(ax: Any, x: Any) -> None:
    """Integer generation ticks, at most about ten; one generation is centred with room."""
    import matplotlib.ticker

    if len(x) == 1:
        ax.set_xlim(x[0] - 1, x[0] + 1)
        ax.set_xticks([x[0]])
        return
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=10, integer=True))
    ax.set_xlim(x[0] - 0.5, x[-1] + 0.5)


def plot_trials(
    scores: Sequence[float | None],
    direction: str = "max",
    path: str | None = None,
    title: str = "Score by trial",
    ylabel: str = "Score",
    show: bool = False,
) -> Any:
    """Draws the score of every trial in the order they were run, and the best so far.

    For searches without generations (a project of another Keras Tuner tuner, read by
    `kte show --plot`). Trials without a score are left out.

    Args:
        scores: One score per trial, in run order (None for a trial without one).
        direction: "max" or "min": which way the best-so-far line improves.
        path: Where to save the figure (PNG by extension); None to not save.
        title: Figure title.
        ylabel: Label of the y axis.
        show: Also open a window (needs a display).

    Returns:
        The matplotlib `Figure`.
    """
    plt = _pyplot(show)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    points = [(i + 1, s) for i, s in enumerate(scores) if s is not None]
    if points:
        x = [i for i, _ in points]
        y = [s for _, s in points]
        best, running = [], None
        for score in y:
            running = scores_lib.best([running, score], direction)
            best.append(running)
        ax.scatter(x, y, s=18 if len(x) <= 100 else 6, alpha=0.6, label="trial")
        ax.step(x, best, where="post", color="C1", label=f"best so far ({direction})")
        ax.legend(loc="best", fontsize=8)
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title(title)
    ax.set_xlabel("Trial (run order)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return finish(fig, path, show)


def plot_lineage(
    history: History,
    trial_id: str | None = None,
    path: str | None = None,
    title: str | None = None,
    show: bool = False,
) -> Any:
    """Draws the family tree of a trial (the fittest by default), generation by generation.

    Each ancestor is a node in the column of its generation, coloured by its score (grey
    when it has none), with the genes mutated when it was made written beneath it; random
    members are squares, children circles, and lines join children to their parents.

    Args:
        history: The search's `History`.
        trial_id: The trial whose ancestry to draw; None draws the fittest.
        path: Where to save the figure (PNG by extension); None to not save.
        title: Figure title; by default names the trial and its score.
        show: Also open a window (needs a display).

    Returns:
        The matplotlib `Figure`.

    Raises:
        ValueError: If `trial_id` is None and no trial has a score yet.
    """
    import matplotlib

    plt = _pyplot(show)
    if trial_id is None:
        fittest = history.fittest
        if fittest is None:
            raise ValueError("No trial has a score yet: there is no fittest to draw.")
        trial_id = fittest["trial_id"]
    scores = history.scores
    members = history.lineage.ancestors(trial_id)
    columns, position = _lineage_layout(history, members)
    height = max(len(tids) for tids in columns.values())
    fig, ax = plt.subplots(figsize=(min(3 + 1.8 * len(columns), 18), min(2.2 + 1.1 * height, 14)))
    _draw_edges(ax, history, members, position)
    known = [scores[tid] for tid in members if tid in scores]
    cmap = plt.get_cmap("viridis" if history.direction == "max" else "viridis_r")
    norm = matplotlib.colors.Normalize(min(known, default=0), max(known, default=1))
    for tid in members:
        color = cmap(norm(scores[tid])) if tid in scores else "0.8"  # grey: no score
        _draw_node(ax, tid, position[tid], history.lineage.get(tid, {}), scores, color, trial_id)
    if known:
        mappable = matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap)
        fig.colorbar(mappable, ax=ax, label=history.objective)
    score = scores.get(trial_id)
    ax.set_title(
        title
        or f"Lineage of trial {trial_id}"
        + (f" ({history.objective} {score:.4g})" if score is not None else "")
    )
    _lineage_axes(ax, columns, height)
    return finish(fig, path, show)


def _lineage_layout(
    history: History, members: list[str]
) -> tuple[dict[int, list[str]], dict[str, tuple[int, float]]]:
    """Columns (trial ids by generation) and each member's `(x, y)`, centred on y = 0."""
    columns: dict[int, list[str]] = {}
    for tid in members:
        generation = int(history.lineage.get(tid, {}).get("generation", 0))
        columns.setdefault(generation, []).append(tid)
    position = {}
    for generation, tids in columns.items():
        for row, tid in enumerate(tids):
            position[tid] = (generation, (len(tids) - 1) / 2 - row)
    return columns, position


def _draw_edges(
    ax: Any, history: History, members: list[str], position: dict[str, tuple[int, float]]
) -> None:
    """A grey line from every member to each of its parents that is drawn."""
    for tid in members:
        for parent in history.lineage.get(tid, {}).get("parents", []):
            if parent in position:
                (x0, y0), (x1, y1) = position[parent], position[tid]
                ax.plot([x0, x1], [y0, y1], color="0.6", zorder=1)


def _draw_node(
    ax: Any,
    tid: str,
    xy: tuple[int, float],
    record: dict[str, Any],
    scores: dict[str, float],
    color: Any,
    trial_id: str,
) -> None:
    """One member: its marker (the drawn trial ringed in crimson), id and score, mutations."""
    x, y = xy
    marker = "o" if record.get("origin", "child") == "child" else "s"
    edge = "crimson" if tid == trial_id else "black"
    ax.scatter(
        [x],
        [y],
        s=_NODE_SIZE,
        c=[color],
        marker=marker,
        edgecolors=edge,
        linewidths=2.5 if tid == trial_id else 1,
        zorder=2,
    )
    score = f"{scores[tid]:.4g}" if tid in scores else "n/a"
    ax.annotate(
        f"#{tid}  {score}",
        (x, y),
        xytext=(0, 15),
        textcoords="offset points",
        ha="center",
        fontsize=8,
    )
    mutated = record.get("mutated") or []
    if mutated:
        shown = ", ".join(mutated[:3]) + (" …" if len(mutated) > 3 else "")
        ax.annotate(
            f"mutated: {shown}",
            (x, y),
            xytext=(0, -20),
            textcoords="offset points",
            ha="center",
            fontsize=7,
            color="0.3",
        )


def _lineage_axes(ax: Any, columns: dict[int, list[str]], height: int) -> None:
    """Generation ticks, limits around the nodes, the legend of shapes, no frame but the base."""
    import matplotlib

    ax.set_xlabel("Generation")
    ax.set_xticks(sorted(columns))
    ax.set_yticks([])
    ax.set_xlim(min(columns) - 0.6, max(columns) + 0.6)
    ax.set_ylim(-(height - 1) / 2 - 0.6, (height - 1) / 2 + 0.6)
    ax.legend(
        handles=[
            matplotlib.lines.Line2D([], [], marker=m, ls="", color="0.5", label=label)
            for m, label in _SHAPES
        ],
        loc="lower left",
        fontsize=8,
        frameon=False,
    )
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
