"""Which version of our code made a stored benchmark run.

Benchmarks keep their runs on disk and `--resume`/`--reuse` read them back, so a report can
mix runs of two versions of the package without anyone noticing: `multi_fidelity.md` once
showed fixed-epoch `EvolutionaryOracle` runs older than its gene-pool breeding. Every stored
run of our oracles records `oracle_source()`, and the benchmarks run again any run whose
digest is not the current one.

The digest covers every module of the package (the evolution's breeding lives in many of
them) as parsed code, so editing comments or docstrings keeps the stored runs.
"""

from __future__ import annotations

import ast
import functools
import gc
import glob
import hashlib
import multiprocessing
import os
from collections.abc import Callable, Iterator
from typing import Any


@functools.cache
def oracle_source() -> str:
    """The installed package's `package_digest`, computed once per process: benchmarks call
    it before forking their workers, which inherit it (parsing in a forked worker can set off
    a garbage collection of objects it inherited, see `multi_fidelity._run_jobs`)."""
    import keras_tuner_evolution

    return package_digest(os.path.dirname(keras_tuner_evolution.__file__))


def package_digest(folder: str) -> str:
    """A digest of the code of the package in `folder`: its modules' parsed code, without
    docstrings, by relative path (12 hex digits)."""
    digest = hashlib.blake2b(digest_size=6)
    for path in sorted(glob.glob(os.path.join(folder, "**", "*.py"), recursive=True)):
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
        for node in ast.walk(tree):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and _is_docstring(body[0]):
                node.body = body[1:] or [ast.Pass()]
        digest.update(os.path.relpath(path, folder).encode() + ast.dump(tree).encode())
    return digest.hexdigest()


def _forgetting(function: Callable, job: Any) -> Any:
    """`function(job)`, then every oracle of the job let go (`forget_oracles`)."""
    try:
        return function(job)
    finally:
        forget_oracles()


def forget_oracles() -> None:
    """Lets go of every oracle this process made, as far as Keras Tuner holds them.

    `keras_tuner.synchronized` keeps its locks in module-level dicts keyed by the oracle
    (`LOCKS` and `THREADS` of `keras_tuner.src.engine.oracle`, 1.4.x), so every oracle stays
    alive with all its trials. In a worker that runs job after job, each full garbage
    collection walks them all again, and the pause lands in the oracle time of whichever run
    triggers it: measured at 0.03 s growing to 0.21 s per collection over 42 runs in one
    process, so a run's oracle time depended on the runs before it. Call it between runs only.
    """
    from keras_tuner.src.engine import oracle as oracle_module

    oracle_module.LOCKS.clear()
    oracle_module.THREADS.clear()


def _is_docstring(statement: ast.stmt) -> bool:
    value = getattr(statement, "value", None)
    return (
        isinstance(statement, ast.Expr)
        and isinstance(value, ast.Constant)
        and isinstance(value.value, str)
    )


def forked_runs(function: Callable, jobs: list, workers: int, per_child: int) -> Iterator:
    """`function(job)` of each job, in order, from forked worker processes.

    The digest is computed here, once, and the workers inherit it. Objects the workers
    inherit are never collected there (`gc.freeze`): a collection in a forked worker ran
    TensorFlow's finalizers (of models built earlier in the process), which abort. After each
    job its oracles are let go (`_forgetting`), so a worker's later runs do not carry them.
    """
    oracle_source()
    gc.freeze()
    try:
        with multiprocessing.get_context("fork").Pool(workers, maxtasksperchild=per_child) as pool:
            yield from pool.imap(functools.partial(_forgetting, function), jobs)
    finally:
        gc.unfreeze()
