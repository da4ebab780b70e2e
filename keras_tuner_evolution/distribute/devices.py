"""Which GPUs or CPU cores each worker of `kte launch` may use, found without TensorFlow.

Each worker is pinned to its device: its GPU(s), round robin over the visible ones, or an
equal share of the CPU cores (affinity and thread counts) when there is no GPU.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from keras_tuner_evolution.distribute.environment import (
    CPU_ONLY,
    CUDA_VISIBLE_DEVICES,
    OMP_NUM_THREADS,
    TF_FORCE_GPU_ALLOW_GROWTH,
    TF_NUM_INTEROP_THREADS,
    TF_NUM_INTRAOP_THREADS,
)

__all__ = ["Device", "assign_devices", "available_cpus", "parse_devices", "visible_gpus"]


@dataclass(frozen=True)
class Device:
    """What one worker may use.

    Attributes:
        gpus: GPU ids for `CUDA_VISIBLE_DEVICES`; empty for a CPU worker (all GPUs hidden).
        cpus: CPU cores the worker is pinned to (its affinity); empty: not pinned.
        shared_gpu: Whether another worker uses the same GPU (memory then grows on demand).
    """

    gpus: tuple[str, ...] = ()
    cpus: tuple[int, ...] = ()
    shared_gpu: bool = False

    def env(self) -> dict[str, str]:
        """The environment variables that pin a process to this device."""
        if self.gpus:
            env = {CUDA_VISIBLE_DEVICES: ",".join(self.gpus)}
            if self.shared_gpu:
                # TensorFlow takes a whole GPU's memory by default: two workers on one GPU
                # would run out of memory.
                env[TF_FORCE_GPU_ALLOW_GROWTH] = "true"
            return env
        env = {CUDA_VISIBLE_DEVICES: CPU_ONLY}
        if self.cpus:
            # Without these, every worker would start one thread per core of the machine.
            threads = str(len(self.cpus))
            for name in (TF_NUM_INTRAOP_THREADS, TF_NUM_INTEROP_THREADS, OMP_NUM_THREADS):
                env[name] = threads
        return env

    def describe(self) -> str:
        """A short description for the launcher's messages, e.g. ``GPU 0,1, shared``."""
        if self.gpus:
            shared = ", shared" if self.shared_gpu else ""
            return f"GPU {','.join(self.gpus)}{shared}"
        if self.cpus:
            return f"CPU cores {','.join(map(str, self.cpus))}"
        return "CPU"


def parse_devices(text: str) -> str | tuple[str, ...]:
    """Parses `--devices`: ``auto``, ``cpu`` or a comma-separated list of GPU ids.

    Raises:
        argparse.ArgumentTypeError: For an empty id list or an id with odd characters.
    """
    text = text.strip()
    if text.lower() in ("auto", "cpu"):
        return text.lower()
    ids = tuple(part.strip() for part in text.split(","))
    if not ids or any(not re.fullmatch(r"[A-Za-z0-9_-]+", gpu) for gpu in ids):
        raise argparse.ArgumentTypeError(f"expected auto, cpu or GPU ids like 0,1,3; got {text!r}")
    return ids


def _listed_gpus(listed: str) -> list[str]:
    """The ids of a `CUDA_VISIBLE_DEVICES` value that CUDA uses."""
    valid = []
    for gpu in (part.strip() for part in listed.split(",")):
        if not gpu:
            continue
        if gpu.startswith("-"):
            # CUDA stops at the first invalid id, and -1 is the usual way to hide every GPU.
            break
        valid.append(gpu)
    return valid


def visible_gpus(
    environ: Mapping[str, str] | None = None, nvidia_smi: str | None = "auto"
) -> list[str]:
    """The GPU ids this machine offers, without importing TensorFlow.

    `CUDA_VISIBLE_DEVICES` wins when set (an empty value or ``-1`` means none); otherwise
    ``nvidia-smi`` is asked, when it is installed.

    Args:
        environ: The environment to read; defaults to `os.environ`.
        nvidia_smi: Path of ``nvidia-smi``; ``"auto"`` looks it up on the PATH, None skips it.

    Returns:
        The GPU ids, as strings.
    """
    environ = os.environ if environ is None else environ
    listed = environ.get(CUDA_VISIBLE_DEVICES)
    if listed is not None:
        return _listed_gpus(listed)
    if nvidia_smi == "auto":
        nvidia_smi = shutil.which("nvidia-smi")
    if not nvidia_smi:
        return []
    try:
        result = subprocess.run(
            [nvidia_smi, "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in result.stdout.splitlines() if line.strip().isdigit()]


def _cpu_shares(workers: int, cpus: Sequence[int]) -> list[Device]:
    """Disjoint equal shares of `cpus`; one core each, round robin, when they are too few."""
    cpus = sorted(cpus)
    share = max(1, len(cpus) // workers) if workers else 1
    if workers * share <= len(cpus):
        return [Device(cpus=tuple(cpus[i * share : (i + 1) * share])) for i in range(workers)]
    return [Device(cpus=(cpus[i % len(cpus)],)) for i in range(workers)]


def assign_devices(
    devices: str | Sequence[str],
    workers: int,
    gpus: Sequence[str],
    cpus: Sequence[int],
    gpus_per_worker: int = 1,
) -> list[Device]:
    """Gives each worker its device.

    Args:
        devices: ``"auto"`` (GPUs when there are any, else CPU), ``"cpu"``, or GPU ids.
        workers: Number of workers.
        gpus: The visible GPU ids (used by ``"auto"``).
        cpus: The CPU cores this process may use.
        gpus_per_worker: GPUs per worker, for a `distribution_strategy` inside each worker.

    Returns:
        One `Device` per worker: GPUs round robin (consecutive groups of `gpus_per_worker`),
        or disjoint equal shares of `cpus` (one core each, round robin, when there are more
        workers than cores).

    Raises:
        ValueError: For a negative count, or more GPUs per worker than there are.
    """
    if workers < 0 or gpus_per_worker < 1:
        raise ValueError("workers must be >= 0 and gpus_per_worker >= 1.")
    if devices == "auto":
        devices = tuple(gpus) if gpus else "cpu"
    if devices == "cpu":
        return _cpu_shares(workers, cpus)
    pool = list(devices)
    if gpus_per_worker > len(pool):
        raise ValueError(
            f"{gpus_per_worker} GPUs per worker requested, but only {len(pool)} available."
        )
    groups = [
        tuple(pool[(i * gpus_per_worker + k) % len(pool)] for k in range(gpus_per_worker))
        for i in range(workers)
    ]
    shared = workers * gpus_per_worker > len(pool)
    return [Device(gpus=group, shared_gpu=shared) for group in groups]


def available_cpus() -> list[int]:
    """The CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))
