"""Problems used only to tune the evolution's defaults, never reported as results.

`compare.py` reports on its four original problems (which tuned the 0.1.0 defaults too) and on
three held-out problems that no default was tuned on. Issue 15's defaults (guidance, generation
0, mutation rate) were chosen on the four original problems plus these three continuous ones,
added because the original four have only one smooth problem (`grid_rosenbrock`, stepped):

- `levy8`: negated 8-d Levy on continuous `Float(-10, 10)` genes, optimum 0 at (1, ..., 1);
- `styblinski6`: negated 6-d Styblinski-Tang / 2 on `Float(-5, 5)`, optimum 6 x 39.16617;
- `ellipsoid_log`: a smooth, correlated bowl over training-like genes (two log-sampled Floats,
  a log-sampled Int, three linear Floats), optimum 0.
"""

from __future__ import annotations

import math

import keras_tuner as kt


def make_levy8():
    hp = kt.HyperParameters()
    for i in range(8):
        hp.Float(f"x{i}", -10.0, 10.0)

    def score(v):
        x = [v[f"x{i}"] for i in range(8)]
        w = [1 + (xi - 1) / 4 for xi in x]
        total = math.sin(math.pi * w[0]) ** 2
        for wi in w[:-1]:
            total += (wi - 1) ** 2 * (1 + 10 * math.sin(math.pi * wi + 1) ** 2)
        total += (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
        return -total

    return hp, score, 0.0


def make_styblinski6():
    hp = kt.HyperParameters()
    for i in range(6):
        hp.Float(f"x{i}", -5.0, 5.0)

    def score(v):
        return -sum(v[f"x{i}"] ** 4 - 16 * v[f"x{i}"] ** 2 + 5 * v[f"x{i}"] for i in range(6)) / 2

    return hp, score, 6 * 39.16617


def make_ellipsoid_log():
    hp = kt.HyperParameters()
    hp.Float("lr", 1e-5, 1e-1, sampling="log")
    hp.Float("wd", 1e-7, 1e-2, sampling="log")
    hp.Float("drop", 0.0, 0.7)
    hp.Int("width", 16, 1024, sampling="log")
    hp.Float("mom", 0.5, 0.999)
    hp.Float("warm", 0.0, 0.3)

    def score(v):
        return -(
            (math.log10(v["lr"]) + 3.2 + 0.5 * (v["mom"] - 0.9)) ** 2 * 4
            + (math.log10(v["wd"]) + 4.5) ** 2 * 0.5
            + (v["drop"] - 0.25 - 0.1 * math.log2(v["width"] / 256)) ** 2 * 20
            + (math.log2(v["width"]) - 8) ** 2 * 0.3
            + (v["mom"] - 0.9) ** 2 * 30
            + (v["warm"] - 0.1) ** 2 * 10
        )

    return hp, score, 0.0


TUNING_PROBLEMS = {
    "levy8": make_levy8,
    "styblinski6": make_styblinski6,
    "ellipsoid_log": make_ellipsoid_log,
}
