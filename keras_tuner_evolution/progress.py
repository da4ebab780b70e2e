"""The progress of a search, written once: trials done, generation, best score so far.

`Evolving population:  40%|████      | 12/30 [00:41<01:02, generation=3/6, best=0.9412]`

`SearchProgress` is the one bar. In a terminal or a notebook it is a live `tqdm.auto` bar;
when the output is not a terminal (a log file, CI), one plain line per generation is printed
instead of a stream of carriage returns. `verbose=0` silences it. Three drivers feed it:

- `ProgressHooks`: a tuner's hooks, in a search on one process;
- `OracleProgress`: the chief of a parallel search (`kte launch`), which runs no tuner hooks
  and polls its oracle's counts (`search_state`) instead;
- `TrialLog` is the same progress as one line per trained model, for the Keras callback
  `keras_tuner_evolution.callbacks.Progress`.

Every driver reads public attributes only, and keeps its best score with `BestScore`, which
compares through `keras_tuner_evolution.scores`. No heavy import at module level.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from keras_tuner_evolution import scores

DESCRIPTION = "Evolving population"

__all__ = [
    "DESCRIPTION",
    "BestScore",
    "OracleProgress",
    "ProgressHooks",
    "SearchProgress",
    "TrialLog",
    "search_state",
]


def _in_notebook() -> bool:
    """Whether `tqdm.auto` chose its notebook (widget) bar."""
    from tqdm.auto import tqdm

    return any(cls.__module__ == "tqdm.notebook" for cls in tqdm.__mro__)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _int_or_none(value: Any) -> int | None:
    # Oracles from plain Keras Tuner, and stand-ins in tests, may hold anything here.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class BestScore:
    """The best usable score seen so far, for an objective of `direction`.

    Args:
        direction: ``"max"`` or ``"min"``.
        value: The best score already known (a resumed search), or None.
    """

    def __init__(self, direction: str = "max", value: float | None = None):
        self.direction = direction
        self.value = scores.usable(value)

    def offer(self, score: Any) -> bool:
        """Keeps `score` when it is usable and better than the best; whether it was kept."""
        value = scores.usable(score)
        if value is None:
            return False
        if self.value is None or scores.better(value, self.value, self.direction):
            self.value = value
            return True
        return False


class SearchProgress:
    """Progress of a search: a bar over trials, with the generation and the best score.

    Args:
        total: Trials the search may run (`max_trials`); None when unbounded.
        initial: Trials already done (a resumed search).
        generations: Number of generations when limited, for "generation 3/6".
        objective: Name shown next to the best score in plain-line mode.
        enabled: False makes every method a no-op (`verbose=0`).
        stream: Where to write; standard error by default (like tqdm).
        live: Force a live bar (True) or plain lines (False); None decides from the stream
            (a terminal or a notebook: live).
    """

    def __init__(
        self,
        total: int | None = None,
        initial: int = 0,
        generations: int | None = None,
        objective: str = "score",
        enabled: bool = True,
        stream: TextIO | None = None,
        live: bool | None = None,
    ):
        self.total = total
        self.done = initial
        self.generations = generations
        self.objective = objective
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.generation: int | None = None
        self.best: float | None = None
        self.running: int | None = None
        self._bar: Any = None
        self._start = time.monotonic()
        self._live = live
        self._initial = initial
        self._printed_done: int | None = None

    @classmethod
    def for_tuner(cls, tuner: Any, stream: TextIO | None = None) -> SearchProgress:
        """The progress of `tuner`'s search, shown on a single process or the chief only.

        Disabled when the oracle's `verbose` is 0 (`search(..., verbose=0)`) and on the workers
        of a distributed search (they run only some of the trials; the chief shows the bar).

        Args:
            tuner: A tuner whose `oracle` is built.
            stream: Where to write; standard error by default.
        """
        from keras_tuner_evolution import _keras_tuner

        oracle = tuner.oracle
        verbose = 0 if _keras_tuner.is_worker() else getattr(oracle, "verbose", 1)
        objective = getattr(oracle.objective, "name", "score")
        return cls(
            total=_int_or_none(getattr(oracle, "max_trials", None)),
            initial=len(getattr(oracle, "end_order", [])),
            generations=_int_or_none(getattr(oracle, "generations", None)),
            objective=objective if isinstance(objective, str) else "score",
            enabled=verbose not in (0, False, "0", None),
            stream=stream,
        )

    @property
    def live(self) -> bool:
        """Whether this is a live bar (redrawn in place) rather than plain lines."""
        if self._live is None:
            self._live = _in_notebook() or _is_terminal(self.stream)
        return self._live

    def postfix(self) -> dict[str, str]:
        """What follows the counts: the generation (of how many), the best score, running."""
        shown: dict[str, str] = {}
        if self.generation is not None:
            of = f"/{self.generations}" if self.generations else ""
            shown["generation"] = f"{self.generation + 1}{of}"
        if self.best is not None:
            shown["best"] = f"{self.best:.4g}"
        if self.running is not None:
            shown["running"] = str(self.running)
        return shown

    def start(self) -> None:
        """Shows the bar (live mode) at the current count."""
        if not self.enabled or self._bar is not None or not self.live:
            return
        from tqdm.auto import tqdm

        self._bar = tqdm(
            total=self.total,
            initial=self.done,
            desc=DESCRIPTION,
            unit="trial",
            file=self.stream,
            dynamic_ncols=True,
        )

    def update(
        self,
        done: int,
        generation: int | None = None,
        best: float | None = None,
        running: int | None = None,
    ) -> None:
        """Sets the count of finished trials, the current generation index and the best score.

        In plain-line mode, prints a line whenever a generation is left behind.

        Args:
            done: Trials finished (completed or failed).
            generation: Index of the generation being handed out, None when unknown.
            best: The best score so far, None when unknown.
            running: Trials running now, shown only when given (the chief's bar).
        """
        if not self.enabled:
            return
        left_behind = (
            generation is not None and self.generation is not None and generation > self.generation
        )
        if left_behind and not self.live:
            self._print_line()  # the line for the generation that just ended
        self.done = done
        if generation is not None:
            self.generation = generation
        if best is not None:
            self.best = best
        if running is not None:
            self.running = running
        if self.live:
            self.start()
            self._bar.n = done
            self._bar.set_postfix(self.postfix(), refresh=False)
            # Redrawn at every update: a line printed below the bar (a worker's output relayed
            # by `kte launch`) erases it.
            self._bar.refresh()

    def redisplay(self) -> None:
        """Shows a notebook bar again after Keras Tuner cleared the cell's output."""
        if self._bar is None or getattr(self._bar, "container", None) is None:
            return
        try:
            from IPython.display import display

            display(self._bar.container)
        except Exception:  # noqa: BLE001 - no IPython: nothing was cleared
            pass

    def close(self) -> None:
        """Ends the bar (or prints the final line)."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif not self.live and self.done > self._initial:
            self._print_line()

    def _print_line(self) -> None:
        from tqdm import tqdm

        line = tqdm.format_meter(
            self.done,
            self.total,
            time.monotonic() - self._start,
            prefix=DESCRIPTION,
            unit="trial",
            ascii=True,
            ncols=100,
            postfix=", ".join(f"{k}={v}" for k, v in self.postfix().items()) or None,
        )
        if self.done != self._printed_done:
            print(line, file=self.stream, flush=True)
            self._printed_done = self.done


class ProgressHooks:
    """Drives a `SearchProgress` from a tuner's hooks (see `EvolutionaryTuner`).

    Made in the tuner's `__init__`, before its oracle exists: it only keeps the tuner, and
    reads its public attributes when a hook is called.

    Args:
        tuner: The tuner whose search is shown.
    """

    def __init__(self, tuner: Any):
        self.tuner = tuner
        self.progress: SearchProgress | None = None
        self._best: BestScore | None = None

    @property
    def best(self) -> float | None:
        """The best score of the search so far (None before the first completed trial)."""
        return None if self._best is None else self._best.value

    def search_begin(self) -> None:
        """Call from `Tuner.on_search_begin`: shows the bar at the trials already done."""
        oracle = self.tuner.oracle
        self.progress = SearchProgress.for_tuner(self.tuner)
        self._best = BestScore(getattr(oracle.objective, "direction", "max"))
        if self.progress.enabled:
            # Once per search (a resumed one has a best already); then per trial, O(1).
            fittest = oracle.history.fittest if hasattr(oracle, "history") else None
            self._best.offer(fittest["fitness"] if fittest else None)
            self._update()

    def trial_end(self, trial: Any = None) -> None:
        """Call after the oracle ended `trial` (after `Tuner.on_trial_end`)."""
        if self.progress is not None and self.progress.enabled:
            if getattr(self.tuner.oracle, "verbose", 0) not in (0, False):
                self.progress.redisplay()  # Keras Tuner clears a notebook cell per trial
            self._best.offer(None if trial is None else getattr(trial, "score", None))
            self._update()

    def search_end(self) -> None:
        """Call from `Tuner.on_search_end`: ends the bar."""
        if self.progress is not None:
            self.progress.close()
            self.progress = None

    def _update(self) -> None:
        oracle = self.tuner.oracle
        # `current_generation` exists on evolutionary oracles only; plain Keras Tuner has none.
        self.progress.update(
            len(getattr(oracle, "end_order", [])),
            generation=getattr(oracle, "current_generation", None),
            best=self.best,
        )


def search_state(oracle: Any) -> dict[str, Any]:
    """Counts of a search so far, from an oracle's public attributes.

    Not synchronised: the chief reads it under the oracle's lock (`distribute.snapshot`).

    Returns:
        `{"finished": ..., "running": ..., "best": float or None, "max_trials": ...,
        "generation": int or None}`: finished trials are completed or failed ones.
    """
    from keras_tuner.engine.trial import TrialStatus

    completed = [
        trial.score for trial in oracle.trials.values() if trial.status == TrialStatus.COMPLETED
    ]
    return {
        "finished": len(oracle.end_order),
        "running": len(oracle.ongoing_trials),
        "best": scores.best(completed, oracle.objective.direction),
        "max_trials": oracle.max_trials,
        "generation": getattr(oracle, "current_generation", None),
    }


class OracleProgress:
    """The chief's bar: one live `SearchProgress` over a parallel search, polled.

    The chief runs no tuner hooks (the workers run the trials), so whoever serves its oracle
    calls `update` now and then. Keras Tuner's per-trial display is silenced meanwhile (it
    would break the bar) and restored by `close`.

    Args:
        oracle: The chief's oracle.
        snapshot: Reads the counts (default `search_state`); the chief passes one that holds
            the oracle's lock.
        stream: Where to draw; standard error by default.
    """

    def __init__(
        self,
        oracle: Any,
        snapshot: Callable[[Any], dict[str, Any]] = search_state,
        stream: TextIO | None = None,
    ):
        self.oracle = oracle
        self.snapshot = snapshot
        self._verbose = oracle.verbose
        oracle.verbose = 0
        state = snapshot(oracle)
        self.progress = SearchProgress(
            total=_int_or_none(state["max_trials"]),
            initial=state["finished"],
            generations=_int_or_none(getattr(oracle, "generations", None)),
            stream=stream,
            live=True,
        )
        self.progress.start()

    def update(self) -> None:
        """Redraws the bar with the oracle's counts now."""
        state = self.snapshot(self.oracle)
        self.progress.update(
            state["finished"],
            generation=state["generation"],
            best=state["best"],
            running=state["running"],
        )

    def close(self) -> None:
        """Draws the final counts, ends the bar and restores the oracle's display."""
        self.update()
        self.progress.close()
        self.oracle.verbose = self._verbose


class TrialLog:
    """One line per trained model: its objective, the best so far and its time.

        model   3: val_accuracy 0.9123   best 0.9200     2.1 s

    Args:
        objective: The logged metric to report, e.g. ``"val_accuracy"``.
        direction: ``"max"`` or ``"min"``: which values are better.
        stream: Where to print; standard output when None.

    Raises:
        ValueError: For a direction other than ``"max"`` or ``"min"``.
    """

    def __init__(self, objective: str, direction: str = "max", stream: TextIO | None = None):
        if direction not in scores.DIRECTIONS:
            raise ValueError(f"direction must be 'max' or 'min'; got {direction!r}.")
        self.objective = objective
        self.direction = direction
        self.stream = stream
        self.trials = 0
        self._best = BestScore(direction)
        self._trial_best = BestScore(direction)
        self._start = 0.0

    @property
    def best(self) -> float | None:
        """The best score of every model so far."""
        return self._best.value

    def trial_begin(self) -> None:
        """A model starts training: its clock and its best score start afresh."""
        self._start = time.monotonic()
        self._trial_best = BestScore(self.direction)

    def observe(self, value: Any) -> None:
        """An epoch's value of the objective (missing or non-finite values are ignored)."""
        self._trial_best.offer(value)

    def trial_end(self) -> None:
        """The model is trained: prints its line."""
        self.trials += 1
        score = self._trial_best.value
        self._best.offer(score)
        shown = "n/a" if score is None else f"{score:.4f}"
        best = "n/a" if self.best is None else f"{self.best:.4f}"
        print(
            f"model {self.trials:3d}: {self.objective} {shown}   best {best}   "
            f"{time.monotonic() - self._start:5.1f} s",
            file=self.stream or sys.stdout,
            flush=True,
        )
