"""Configurations encoded as numbers, for the guidance model (`guidance.DensityRatio`).

An `Encoder` turns a configuration into the probability-space coordinate of each ordered gene
(NaN when inactive) and an integer code per categorical gene's value ("inactive", `INACTIVE`,
being one more). It keeps the encoding of every configuration it has seen, so that a fit stacks
rows instead of reading dictionaries, and candidates are scored at once by table lookups.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from keras_tuner import HyperParameters
from keras_tuner.engine import hyperparameters as hp_module

from keras_tuner_evolution import space as space_lib

# The value of a categorical gene that is not active in a configuration.
INACTIVE = "__kte_inactive__"
# A gene's memo of value -> coordinate stops growing at this size (continuous genes).
_MEMO_SIZE = 4096
# An encoder keeps the encodings of this many genomes at most (then starts again).
_MAX_ROWS = 100_000


def coordinate(hp: hp_module.HyperParameter, value: Any) -> Any:
    """Where `hp`'s density is evaluated at `value`: its probability if ordered, else itself."""
    return space_lib.value_to_prob(hp, value) if space_lib.is_ordered(hp) else value


class Encoder:
    """The model's genes of one space (its names but `Fixed` ones), and configurations encoded
    as numbers: the coordinates of the ordered genes and the codes of the categorical ones.

    A categorical gene's values get codes in order of first sight ("inactive", `INACTIVE`,
    being one more) which never change, so the encodings of genomes are kept (`encode`) and a
    fitted model's tables stay valid for configurations encoded later.
    """

    def __init__(self, space: HyperParameters):
        self.space = space  # held, so that its id stays unique while the encoder is kept
        self.by_name = space_lib.hyperparameters_by_name(space)
        self.names = [n for n, h in self.by_name.items() if not isinstance(h[0], hp_module.Fixed)]
        # Whether a gene is ordered follows its first declaration, as its model does.
        kinds = [space_lib.is_ordered(self.by_name[name][0]) for name in self.names]
        self.ordered = np.array(kinds, dtype=bool)
        self.ordered_names = [name for name, ordered in zip(self.names, kinds) if ordered]
        self.categorical = [gene for gene, ordered in enumerate(kinds) if not ordered]
        self.codes: list[dict[Any, int]] = [{} for _ in self.names]
        # A name declared once has one coordinate per value: memoised (bounded).
        single = [hps[0] if len(hps) == 1 else None for hps in map(self.by_name.get, self.names)]
        self._genes = [(n, ordered, hp, {}) for n, ordered, hp in zip(self.names, kinds, single)]
        self._positions: dict[int, int] = {}  # genome id -> its row in the two tables below
        self._kept: list[Mapping[str, Any]] = []  # those genomes, held so their ids stay theirs
        self._coordinates = np.empty((64, len(self.ordered_names)))
        self._codes = np.empty((64, len(self.categorical)), dtype=int)

    def code(self, gene: int, value: Any) -> int:
        """The code of a categorical gene's value (a new value gets the next code)."""
        return self.codes[gene].setdefault(value, len(self.codes[gene]))

    def point_row(self, point: Mapping[str, Any]) -> tuple[list[Any], list[int]]:
        """The coordinates and codes of a configuration's `coordinates`."""
        return [point.get(name, math.nan) for name in self.ordered_names], [
            self.code(gene, point.get(self.names[gene], INACTIVE)) for gene in self.categorical
        ]

    def genome_row(self, genome: Mapping[str, Any]) -> tuple[list[Any], list[int]]:
        """`point_row(coordinates(by_name, genome))`, computed directly."""
        coordinates, codes = [], []
        for gene, (name, ordered, hp, memo) in enumerate(self._genes):
            if name not in genome:
                point = math.nan if ordered else INACTIVE
            elif hp is None:  # declared under several scopes: the active declaration decides
                active = space_lib.active_hyperparameter(self.by_name, name, genome)
                point = coordinate(active, genome[name])
            elif not ordered:
                point = genome[name]
            else:
                point = memo.get(genome[name])
                if point is None:
                    point = space_lib.value_to_prob(hp, genome[name])
                    if len(memo) < _MEMO_SIZE:
                        memo[genome[name]] = point  # equal values (1, 1.0, True) share it
            if ordered:
                coordinates.append(point)
            else:
                codes.append(self.code(gene, point))
        return coordinates, codes

    def encode(self, genomes: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """The genomes' coordinates and codes (a row per genome), each genome encoded once per
        object (the engine keeps its genomes, so each is encoded once instead of at every fit)."""
        if len(self._kept) + len(genomes) > _MAX_ROWS:
            self._positions.clear()
            self._kept.clear()
        # Looked up without a Python loop; -1 marks a new genome (usually only the last
        # result's), and only those are encoded: a loop over every genome would make each fit
        # cost more as the results grow.
        found = map(self._positions.get, map(id, genomes), itertools.repeat(-1))
        positions = np.fromiter(found, dtype=int, count=len(genomes))
        for index in np.flatnonzero(positions < 0).tolist():
            positions[index] = self._position(genomes[index])
        return self._coordinates[positions], self._codes[positions]

    def _position(self, genome: Mapping[str, Any]) -> int:
        """Encodes a new genome into the next row of the tables (grown by doubling)."""
        position = self._positions.get(id(genome))  # a genome listed twice is encoded once
        if position is None:
            position = self._positions[id(genome)] = len(self._kept)
            self._kept.append(genome)
            if position == len(self._coordinates):
                self._coordinates = np.concatenate([self._coordinates, self._coordinates])
                self._codes = np.concatenate([self._codes, self._codes])
            # The row's floats and ints as `matrices` would convert them, without its arrays.
            self._coordinates[position], self._codes[position] = self.genome_row(genome)
        return position

    def matrices(self, genomes: Sequence[Mapping[str, Any]], points: bool = False) -> tuple:
        """The coordinates (floats as NumPy makes them, as fits always did) and codes of genomes
        (of `coordinates` when `points`), a row each."""
        rows = [self.point_row(g) if points else self.genome_row(g) for g in genomes]
        shape = (len(rows), len(self.ordered_names)), (len(rows), len(self.categorical))
        coordinates = np.array([row[0] for row in rows], dtype=float).reshape(shape[0])
        return coordinates, np.array([row[1] for row in rows], dtype=int).reshape(shape[1])
