"""`kte show`: a search's project folder summarised from the shell, during or after the search.

- `reading`: finds the project folder and reads its JSON files, read-only, retrying files that
  are being rewritten;
- `summary`: builds the `Summary` (generation table, fittest, best trials, stop reason, time);
- `command`: the command line, its text and JSON output and `--plot`.

Like `kte launch`, it imports neither Keras Tuner nor TensorFlow.
"""

from __future__ import annotations

from keras_tuner_evolution.show.command import add_arguments, add_show_command, run_show
from keras_tuner_evolution.show.reading import ProjectError, read_project, resolve
from keras_tuner_evolution.show.summary import Summary, summarise

__all__ = [
    "ProjectError",
    "Summary",
    "add_arguments",
    "add_show_command",
    "read_project",
    "resolve",
    "run_show",
    "summarise",
]
