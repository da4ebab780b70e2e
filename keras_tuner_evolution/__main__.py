"""`python -m keras_tuner_evolution` runs the `kte` command line."""

from keras_tuner_evolution.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
