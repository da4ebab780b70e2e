"""The `kte show` command: a project's state from the shell, during or after a search.

    kte show runs/digits
    kte show --directory runs --project digits --plot figures --json

Light on purpose: it reads JSON files only and imports neither Keras Tuner nor TensorFlow
(matplotlib and the History only with --plot), so it answers at once beside a running search.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from keras_tuner_evolution.argtypes import int_at_least
from keras_tuner_evolution.show import reading
from keras_tuner_evolution.show.summary import EVOLUTION, Summary, summarise

DEFAULT_TOP = 5
# Widest "name=value, ..." text of a trial in the table of best trials.
VALUES_WIDTH = 90

_DESCRIPTION = """\
Show a search's project folder: the generation table (members, completed, failures, best,
mean), the fittest configuration and its score, the stop reason, the time spent and the best
trials. Reads the files only, so it is safe during a search (also a parallel one) and after.
A project of another Keras Tuner tuner (RandomSearch, Hyperband, ...) gets its best trials."""

_EPILOG = """\
examples:
  kte show runs/digits                      the project folder (directory/project_name)
  kte show runs --project digits            the same, as the tuner's arguments
  kte show kte-demo --plot figures          evolution.png and lineage.png into figures/
  kte show runs/digits --json | jq .fittest
  watch -n 10 kte show runs/digits          refresh every 10 s during a search"""


def add_show_command(commands: Any) -> argparse.ArgumentParser:
    """Adds `show` to the `kte` subcommands and returns its parser."""
    parser = commands.add_parser(
        "show",
        help="summarise a search's project folder, during or after the search",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return add_arguments(parser)


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Adds the `show` arguments to `parser` and returns it."""
    parser.add_argument(
        "path",
        nargs="?",
        metavar="PROJECT_DIR",
        help="the project folder, the tuner's directory with --project, or a folder holding "
        "one project",
    )
    parser.add_argument(
        "--directory", metavar="DIR", help="the tuner's `directory` (instead of PROJECT_DIR)"
    )
    parser.add_argument("--project", metavar="NAME", help="the tuner's `project_name`")
    parser.add_argument(
        "--top",
        type=int_at_least(0),
        default=DEFAULT_TOP,
        metavar="N",
        help=f"list the N best trials (default: {DEFAULT_TOP}; 0: none)",
    )
    parser.add_argument(
        "--plot",
        metavar="DIR",
        help="write evolution.png and lineage.png into DIR (trials.png for another tuner's "
        "project); DIR is created",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "--direction",
        choices=("max", "min"),
        help="whether higher or lower scores are better, for another tuner's project whose "
        "objective cannot be told from its trials (a search of this package records it)",
    )
    parser.set_defaults(handler=run_show)
    return parser


def run_show(args: argparse.Namespace) -> int:
    """Runs ``kte show`` with parsed arguments; returns the exit status (1 when the project
    cannot be read, 2 for contradictory arguments)."""
    if args.path is not None and args.directory is not None:
        print("kte show: error: give PROJECT_DIR or --directory, not both", file=sys.stderr)
        return 2
    path = args.path if args.path is not None else args.directory
    if path is None and args.project is None:
        print(
            "kte show: error: name the project: kte show PROJECT_DIR, or "
            "--directory DIR --project NAME",
            file=sys.stderr,
        )
        return 2
    try:
        folder = reading.resolve(path, args.project)
        files = reading.read_project(folder)
        summary = summarise(files, top=args.top, direction=args.direction)
        written = write_plots(summary, files, args.plot) if args.plot else []
    except reading.ProjectError as error:
        print(f"kte show: error: {error}", file=sys.stderr)
        return 1
    if args.json:
        text = json.dumps({**summary.to_dict(), "plots": written}, indent=2)
    else:
        text = "\n".join([format_summary(summary), *(f"Wrote {plot}" for plot in written)])
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:  # `kte show ... | head`: the reader has had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def write_plots(summary: Summary, files: reading.ProjectFiles, directory: str) -> list[str]:
    """Draws the project's figures into `directory`; returns the paths written.

    An evolution gets evolution.png (scores by generation) and, once a trial has a score,
    lineage.png (the fittest trial's family tree); another tuner's project gets trials.png.
    """
    # The History's module still imports Keras Tuner, and so TensorFlow: keep its start-up quiet.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from keras_tuner_evolution import plots

    os.makedirs(directory, exist_ok=True)
    label = f"{summary.objective} ({summary.direction})"
    if summary.kind != EVOLUTION:
        path = os.path.join(directory, "trials.png")
        ordered = sorted(files.trials.values(), key=lambda trial: _trial_order(trial.trial_id))
        scores = [t.score if t.status == "COMPLETED" else None for t in ordered]
        plots.plot_trials(scores, summary.direction, path, f"{summary.objective} by trial", label)
        return [path]
    history = _history(summary, files)
    paths = [os.path.join(directory, "evolution.png")]
    history.plot(path=paths[0], title=f"{summary.objective} by generation", ylabel=label)
    if summary.fittest is not None:
        paths.append(os.path.join(directory, "lineage.png"))
        history.plot_lineage(summary.fittest["trial_id"], path=paths[1])
    return paths


def _trial_order(trial_id: str) -> tuple[int, str]:
    return (int(trial_id), "") if trial_id.isdigit() else (sys.maxsize, trial_id)


def _history(summary: Summary, files: reading.ProjectFiles) -> Any:
    """The project's History, with the scores `summary` completed from the trial files."""
    from keras_tuner_evolution.history import History
    from keras_tuner_evolution.show.summary import evolution_generations

    data = files.history or {"objective": summary.objective, "direction": summary.direction}
    data = {**data, "generations": evolution_generations(files)}
    data.pop("summary", None)
    return History.from_dict(data)


# Text -------------------------------------------------------------------------------------


def format_summary(summary: Summary) -> str:
    """The summary as the text `kte show` prints."""
    lines = _header(summary)
    if summary.kind == EVOLUTION:
        lines += ["", *_generation_table(summary)]
    lines += ["", *_fittest(summary)]
    if summary.best_trials:
        lines += ["", *_best_table(summary)]
    if summary.unreadable:
        lines += [
            "",
            f"Could not read {len(summary.unreadable)} trial file(s) (being written, or "
            f"damaged): {', '.join(summary.unreadable)}",
        ]
    return "\n".join(lines)


def _header(summary: Summary) -> list[str]:
    if summary.kind == EVOLUTION:
        search = "evolutionary search"
        if summary.population:
            p = summary.population
            search += (
                f" (population {p.get('population_size')}, elites {p.get('elites')}, "
                f"breeders {p.get('breeders')} per generation)"
            )
    else:
        search = "Keras Tuner project of another tuner (no evolution history)"
    counts = ", ".join(f"{n} {status.lower()}" for status, n in summary.trials.items())
    rows = [
        ("Project", summary.folder),
        ("Search", search),
        ("Objective", f"{summary.objective} ({summary.direction})"),
        ("Trials", counts or "none yet"),
        ("Status", _status(summary)),
        ("Time spent", _time_spent(summary)),
    ]
    if summary.last_update is not None:
        rows.append(("Last update", _when(summary.last_update)))
    return [f"{name:<12} {value}" for name, value in rows]


def _status(summary: Summary) -> str:
    if summary.stop_message:
        return f"stopped ({summary.stop_reason}): {summary.stop_message}"
    if summary.kind != EVOLUTION:
        return "not recorded by this tuner"
    return "not stopped: running, or interrupted (resume with overwrite=False)"


def _time_spent(summary: Summary) -> str:
    if summary.search_seconds is None:
        return "not recorded by this tuner"
    return f"{duration(summary.search_seconds)} of search (summed over resumed sessions)"


def duration(seconds: float) -> str:
    """`seconds` for people: "42.0 s", "3 min 07 s", "2 h 05 min"."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _when(timestamp: float) -> str:
    moment = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))
    return f"{moment} ({duration(max(time.time() - timestamp, 0.0))} ago)"


def number(value: float | None) -> str:
    """A score in at most 6 significant digits; "-" for none."""
    return "-" if value is None else f"{value:.6g}"


def _generation_table(summary: Summary) -> list[str]:
    if not summary.generations:
        return ["No generation recorded yet."]
    header = ("generation", "members", "completed", "running", "failures", "best", "mean")
    rows = [
        (row.generation, row.members, row.completed, row.running, row.failures)
        + (number(row.best), number(row.mean))
        for row in summary.generations
    ]
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    return [
        "  ".join(str(cell).rjust(width) for cell, width in zip(line, widths))
        for line in (header, *rows)
    ]


def _fittest(summary: Summary) -> list[str]:
    fittest = summary.fittest
    if fittest is None:
        return ["Fittest: no trial has completed yet."]
    where = f"generation {fittest['generation']}, " if fittest.get("generation") is not None else ""
    if "epochs" in fittest:
        where += f"{fittest['epochs']:g} epochs, "
    lines = [
        f"Fittest: trial {fittest['trial_id']} ({where}{summary.objective} "
        f"{number(fittest['score'])})"
    ]
    width = max((len(name) for name in fittest["values"]), default=0)
    lines += [f"  {name:<{width}}  {value}" for name, value in fittest["values"].items()]
    return lines


def _best_table(summary: Summary) -> list[str]:
    trials = summary.best_trials
    lines = [f"Best {len(trials)} trial(s), best first:"]
    id_width = max(len("trial"), *(len(t["trial_id"]) for t in trials))
    for rank, trial in enumerate(trials, 1):
        values = ", ".join(f"{name}={value}" for name, value in trial["values"].items())
        if len(values) > VALUES_WIDTH:
            values = values[: VALUES_WIDTH - 1] + "…"
        lines.append(
            f"  {rank:>3}. trial {trial['trial_id']:<{id_width}}  "
            f"{number(trial['score']):>10}  {values}"
        )
    return lines
