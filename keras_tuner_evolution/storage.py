"""Moved to `keras_tuner_evolution.persistence` (0.2.0); keeps 0.1.0 imports working."""

from keras_tuner_evolution.persistence import (  # noqa: F401
    SYNC_LEVELS,
    UNREADABLE_SUFFIX,
    StateFileError,
    atomic_write_text,
    load_json,
    save_json,
    save_json_text,
    set_aside,
)
