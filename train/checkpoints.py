"""The run folder's resumable checkpoint: where it is, whether it may be resumed, safe writes.

Why a module of its own: an interrupted run is hours of CPU time. The checkpoint must survive
being killed at any moment (each write lands whole or not at all), must not be thrown away by
a fresh run started by mistake, and must only be resumed by the config that wrote it (resuming
with another learning rate, batch size or corpus list silently mixes two runs).

Layout of ``<run_dir>``: ``checkpoint/`` (accelerate's state, ``trainer_state.json`` written
last as the mark of a complete checkpoint, ``config.json``, the weight average),
``best.safetensors`` and ``best_dev.json`` (the best evaluation so far).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable

from .config import NO_DEFAULT, Config, ConfigError, schema_default

CHECKPOINT = "checkpoint"
STATE_FILE = "trainer_state.json"  # written last: its presence marks a complete checkpoint
CONFIG_FILE = "config.json"
AVERAGE_FILE = "weight_average.safetensors"
# The learning-rate schedule's position, as JSON. accelerate would pickle it (custom_checkpoint_0.pkl)
# and unpickle it with weights_only=False on resume: a run folder handed over could run code.
SCHEDULER_FILE = "scheduler.json"
PICKLED_SCHEDULER = "custom_checkpoint_0.pkl"  # what checkpoints written before 2026-12-07 hold instead
BEST_WEIGHTS = "best.safetensors"
BEST_DEV = "best_dev.json"
# Keys a resumed run may change: they do not touch the weights or the order of the data.
MAY_CHANGE_ON_RESUME = {"training.threads", "training.checkpoint_every"}


def staging_folder(run_dir: Path) -> Path:
    return run_dir / (CHECKPOINT + ".tmp")


def _old_folder(run_dir: Path) -> Path:
    return run_dir / (CHECKPOINT + ".old")


def find_checkpoint(run_dir: Path) -> Path | None:
    """The complete checkpoint of an interrupted run, or None. A run killed while swapping in
    a new checkpoint leaves it complete in the staging folder (or the old one beside it)."""
    for folder in (run_dir / CHECKPOINT, staging_folder(run_dir), _old_folder(run_dir)):
        if (folder / STATE_FILE).is_file():
            return folder
    return None


def checkpoint_step(folder: Path) -> int:
    try:
        return int(json.loads((folder / STATE_FILE).read_text()).get("step", 0))
    except (OSError, ValueError, AttributeError):
        return 0


def swap_in(run_dir: Path) -> None:
    """Make the complete staging folder the checkpoint; at every moment one complete copy exists."""
    final, old = run_dir / CHECKPOINT, _old_folder(run_dir)
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(staging_folder(run_dir), final)
    shutil.rmtree(old, ignore_errors=True)


def discard(run_dir: Path) -> None:
    """Remove the checkpoint, the best weights so far and their leftovers (a finished run's model
    folder holds the result), and the run folder itself when nothing else is left in it."""
    for folder in (run_dir / CHECKPOINT, staging_folder(run_dir), _old_folder(run_dir)):
        shutil.rmtree(folder, ignore_errors=True)
    for name in (BEST_WEIGHTS, BEST_DEV):
        (run_dir / name).unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # several processes discard at once at start-up (gone, or no longer empty)
        if run_dir.is_dir() and not any(run_dir.iterdir()):
            run_dir.rmdir()


def config_record(config: Config, processes: int) -> dict[str, Any]:
    """What a checkpoint records of the run that wrote it (output paths aside)."""
    return {"config": config.model_dump(mode="json", exclude={"output"}), "processes": processes}


def check_resumable(folder: Path, config: Config, processes: int) -> None:
    """Refuse to resume a checkpoint written by another config (or another number of processes),
    naming each key that differs, or by an older eventroles that pickled the schedule."""
    if (folder / PICKLED_SCHEDULER).exists() or not (folder / SCHEDULER_FILE).is_file():
        raise ConfigError(f"--resume: the checkpoint in {folder} was written by an older eventroles (its "
                          "learning-rate schedule is a pickle, which eventroles does not load); delete "
                          f"{folder.parent} to start the run over")
    path = folder / CONFIG_FILE
    if not path.is_file():
        return  # written before checkpoints recorded their config: nothing to compare
    recorded = json.loads(path.read_text())
    wanted = config_record(config, processes)
    before, now = flat_config(recorded.get("config", {})), flat_config(wanted["config"])
    changed = changed_keys(before, now)
    lines = [f"  {k}: {before.get(k, '(absent)')!r} when started, now {now.get(k, '(absent)')!r}" for k in changed]
    if recorded.get("processes", processes) != processes:
        lines.append(f"  processes: {recorded['processes']} when started, now {processes}")
    if lines:
        raise ConfigError(
            f"--resume: the checkpoint in {folder} was written by another config; resuming would mix two runs:\n"
            + "\n".join(lines)
            + "\nresume with the config it was started with, or delete the run folder to start over"
        )


def changed_keys(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """The keys of two flat configs whose values differ, the ones that do not touch the weights
    aside. A key one side lacks while that side has its section (a config saved before the key
    existed) counts as its default; a whole section one side lacks (``model.random: null``
    against a random backbone) is a difference."""

    def value(side: dict[str, Any], key: str) -> Any:
        if key in side:
            return side[key]
        parent = key.rpartition(".")[0]
        section_here = not parent or any(k.startswith(parent + ".") for k in side)
        return schema_default(key) if section_here and not any(k.startswith(key + ".") for k in side) else NO_DEFAULT

    return [k for k in sorted(set(before) | set(now)) if k not in MAY_CHANGE_ON_RESUME and value(before, k) != value(now, k)]


def flat_config(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"training": {"seed": 1}, "data": {"corpora": [{"name": "x"}]}}`` -> ``{"training.seed": 1,
    "data.corpora.0.name": "x"}``: configs compared key by key (lists of sections by index)."""
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(flat_config(value, f"{prefix}{key}."))
        return out
    if isinstance(tree, list) and tree and all(isinstance(item, dict) for item in tree):
        return {k: v for index, item in enumerate(tree) for k, v in flat_config(item, f"{prefix}{index}.").items()}
    return {prefix.rstrip("."): tree}


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """``write(tmp)`` then rename over ``path``: a kill mid-write keeps the previous file whole."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)
