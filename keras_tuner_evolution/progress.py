"""A progress bar over an evolutionary search: trials done, generation, best so far.

`Evolving population:  40%|████      | 12/30 [00:41<01:02, generation=3/6, best=0.9412]`

In a terminal or a notebook it is a live `tqdm.auto` bar; when the output is not a terminal
(a log file, CI), one plain line per generation is printed instead of a stream of carriage
returns. `verbose=0` silences it.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO

DESCRIPTION = "Evolving population"


def _in_notebook() -> bool:
    """Whether `tqdm.auto` chose its notebook (widget) bar."""
    from tqdm.auto import tqdm

    return any(cls.__module__ == "tqdm.notebook" for cls in tqdm.__mro__)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
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
        self._bar: Any = None
        self._start = time.monotonic()
        self._live = live
        self._initial = initial
        self._printed_done: int | None = None

    @classmethod
    def for_tuner(cls, tuner, stream: TextIO | None = None) -> SearchProgress:
        """The progress of `tuner`'s search, shown on a single process or the chief only.

        (The chief of a distributed search runs no tuner hooks: whoever serves its oracle may
        drive this bar with `update` after each trial.)

        Disabled when the oracle's `verbose` is 0 (`search(..., verbose=0)`) and on the workers
        of a distributed search (they run only some of the trials).
        """
        from keras_tuner.src.distribute import utils as dist_utils

        oracle = tuner.oracle
        worker = dist_utils.has_chief_oracle() and not dist_utils.is_chief_oracle()
        verbose = 0 if worker else getattr(oracle, "verbose", 1)
        enabled = verbose not in (0, False, "0", None)
        total = getattr(oracle, "max_trials", None)
        generations = getattr(oracle, "generations", None)
        end_order = getattr(oracle, "end_order", [])
        objective = getattr(oracle.objective, "name", "score")
        return cls(
            total=total if isinstance(total, int) else None,
            initial=len(end_order),
            generations=generations if isinstance(generations, int) else None,
            objective=objective if isinstance(objective, str) else "score",
            enabled=enabled,
            stream=stream,
        )

    @property
    def live(self) -> bool:
        if self._live is None:
            self._live = _in_notebook() or _is_terminal(self.stream)
        return self._live

    def postfix(self) -> dict[str, str]:
        """What follows the counts: the generation (of how many) and the best score."""
        shown: dict[str, str] = {}
        if self.generation is not None:
            of = f"/{self.generations}" if self.generations else ""
            shown["generation"] = f"{self.generation + 1}{of}"
        if self.best is not None:
            shown["best"] = f"{self.best:.4g}"
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

    def update(self, done: int, generation: int | None = None, best: float | None = None):
        """Sets the count of finished trials, the current generation index and the best score.

        In plain-line mode, prints a line whenever a generation is left behind.
        """
        if not self.enabled:
            return
        if generation is not None and self.generation is not None and generation > self.generation:
            self._print_line()  # the line for the generation that just ended
        self.done = done
        if generation is not None:
            self.generation = generation
        if best is not None:
            self.best = best
        if self.live:
            self.start()
            self._bar.n = done
            self._bar.set_postfix(self.postfix(), refresh=False)
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
    """Drives a `SearchProgress` from a tuner's hooks (see `EvolutionaryTuner`)."""

    def __init__(self, tuner):
        self.tuner = tuner
        self.progress: SearchProgress | None = None

    def search_begin(self) -> None:
        self.progress = SearchProgress.for_tuner(self.tuner)
        self.best = None
        if self.progress.enabled:
            # Once per search (a resumed one has a best already); then per trial, O(1).
            fittest = self.tuner.oracle.history.fittest if self._evolutionary() else None
            self.best = fittest["fitness"] if fittest else None
            self._update()

    def trial_end(self, trial=None) -> None:
        """Call after the oracle ended `trial` (after `Tuner.on_trial_end`)."""
        if self.progress is not None and self.progress.enabled:
            if getattr(self.tuner.oracle, "verbose", 0) not in (0, False):
                self.progress.redisplay()  # Keras Tuner clears a notebook cell per trial
            self._record(trial)
            self._update()

    def search_end(self) -> None:
        if self.progress is not None:
            self.progress.close()
            self.progress = None

    def _evolutionary(self) -> bool:
        return hasattr(self.tuner.oracle, "history")

    def _record(self, trial) -> None:
        score = None if trial is None else getattr(trial, "score", None)
        if score is None or not math.isfinite(float(score)):
            return
        direction = getattr(self.tuner.oracle.objective, "direction", "max")
        if self.best is None or (score > self.best if direction == "max" else score < self.best):
            self.best = float(score)

    def _update(self) -> None:
        oracle = self.tuner.oracle
        # The generation from the oracle's plan, without building the whole History per trial.
        plans = getattr(oracle, "_generations", None)
        current = plans[-1]["index"] if plans else None
        self.progress.update(
            len(getattr(oracle, "end_order", [])), generation=current, best=self.best
        )
