"""Fine-tune a tagger from a validated config, on accelerate: CPU, one GPU, or many.

The loop is deterministic for a seed: each epoch's batch order is drawn from ``seed + epoch``,
gradient accumulation is done by hand over fixed groups of batches, and checkpoints are taken
at optimizer-step boundaries (model, optimizer, scheduler, RNG states and the position in the
epoch), so ``resume=True`` continues exactly where an interrupted run stopped.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import shutil
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np
import torch

if TYPE_CHECKING:
    from accelerate import Accelerator

from eventroles.data.encoding import UNKNOWN_FACT
from eventroles.data.features import Window, build_windows, collate, special_ids
from eventroles.data.problems import CorpusError
from eventroles.data.substitution import NamePool, substituted_copies
from eventroles.data.tags import TagSet
from eventroles.models.backbone import BackboneError, RandomBackbone, build_backbone, load_tokenizer
from eventroles.models.inference import Tagger
from eventroles.models.network import RoleTagger, tagging_loss
from eventroles.models.precision import cpu_has_bf16_units, cuda_has_bf16_units, emulated_precision_note
from eventroles.models.storage import META, ModelMeta, backbone_config_dict, foreign_files, save_model, saved_files
from eventroles.models.warm_start import WarmStart, load_warm_start

from .averaging import WeightAverage
from .calibration import Calibration, calibrate_offset, check_metric, dev_scores
from .checkpoints import (
    AVERAGE_FILE, BEST_DEV, BEST_WEIGHTS, CONFIG_FILE, SCHEDULER_FILE, STATE_FILE, check_resumable, checkpoint_step,
    config_record, discard, find_checkpoint, staging_folder, swap_in, write_atomically,
)
from .config import Config, ConfigError, OutputConfig
from .corpora import LEAK_KIND, LoadedCorpus, leak_note, load_corpora
from .optimizer import adamw_kind, new_adamw
from .progress import beside_bars


def check_outputs(output: OutputConfig) -> None:
    """Refuse outputs that training would destroy. Saving replaces ``output.dir`` whole, which is
    right for a previous model folder and wrong for anything else (a file, a folder of the user's);
    the run folder must be a folder."""
    model_dir, run_dir = Path(output.dir), output.resolved_run_dir()
    empty_folder = model_dir.is_dir() and not any(model_dir.iterdir())
    if model_dir.exists() and not empty_folder and not (model_dir / META).is_file():
        raise ConfigError(f"output.dir: {model_dir} exists and is not an eventroles model folder; saving the model "
                          f"would replace it (choose a new folder, or remove it yourself)")
    if (model_dir / META).is_file():
        foreign = foreign_files(model_dir, saved_files(model_dir))
        if foreign:
            raise ConfigError(f"output.dir: the model folder {model_dir} also holds {', '.join(foreign[:5])}"
                              f"{' and more' if len(foreign) > 5 else ''}, which eventroles did not write; saving the "
                              "new model replaces the folder whole: move them out first")
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"output.run_dir: {run_dir} is a file; the trainer keeps its checkpoints in a "
                          f"folder there (move the file, or set output.run_dir to another folder)")


class TrainingInterrupted(Exception):
    """Raised by ``stop_after_steps`` to simulate a crash (used by the resume test)."""


class TrainingStopped(Exception):
    """Ctrl-C or SIGTERM: the run saved a checkpoint at the step it was in and stopped."""


def check_run_folder(config: Config, resume: bool) -> Path | None:
    """Before any setup: ``--resume`` needs a checkpoint; a fresh run must not throw one away.
    Returns the checkpoint to resume from (None for a fresh run)."""
    run_dir = config.output.resolved_run_dir()
    found = find_checkpoint(run_dir)
    model_meta = Path(config.output.dir) / META
    if not resume and found is not None and model_meta.is_file() and model_meta.stat().st_mtime >= (found / STATE_FILE).stat().st_mtime:
        found = None  # the checkpoint of a run that finished (runs before this version kept it): discarded below
    if resume and found is None:
        raise ConfigError(f"--resume: no checkpoint in {run_dir}; start the run without --resume")
    if not resume and found is not None:
        raise ConfigError(
            f"{run_dir}: an interrupted run left a checkpoint here (step {checkpoint_step(found)}); "
            f"continue it with --resume, or delete {run_dir} to start over"
        )
    if not resume:  # a fresh run: nothing of an earlier run there (its best weights and scores are not this run's)
        discard(run_dir)
    return found


@dataclass
class TrainerState:
    step: int = 0
    epoch: int = 0
    step_in_epoch: int = 0
    best_score: float = -1.0
    best_step: int = 0
    evals_without_improvement: int = 0
    stopped_early: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    train_subwords: int = 0
    train_seconds: float = 0.0


@dataclass
class TrainResult:
    model_dir: Path
    best_dev: dict[str, Any]
    state: TrainerState
    stats: dict[str, Any]
    calibration: Calibration | None = None  # the span offset chosen on dev, when calibrated


def training_device(device: str) -> torch.device:
    """``training.device`` made concrete: "auto" is a CUDA GPU when there is one, else the CPU; a GPU
    asked for by name must be there (training on the CPU instead would take hours unannounced)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):
        index = int(device.partition(":")[2] or 0)
        if not torch.cuda.is_available() or index >= torch.cuda.device_count():
            found = f"{torch.cuda.device_count()} CUDA GPU(s)" if torch.cuda.is_available() else "no CUDA GPU"
            raise ConfigError(f"training.device {device}: this machine has {found}; use auto or cpu")
    return torch.device(device)


def new_accelerator(device: torch.device, mixed_precision: str, **options: Any) -> Accelerator:
    """An Accelerator for one run on ``device``.

    accelerate keeps one precision and device kind per Python process: a second run with another
    one in the same single-process session (a notebook training in fp32, then in bf16) was refused
    with "AcceleratorState has already been initialized ... restart your runtime". In a single
    process its state is started afresh when the precision, CPU-or-GPU or GPU index differ (an
    Accelerator of an earlier run, if still held, then follows the new state); under a launcher
    (several processes) the state belongs to the launcher and is left alone."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    shared = AcceleratorState._shared_state
    held = shared.get("device")
    moved = (getattr(held, "type", None) == "cpu") != (device.type == "cpu") or (
        device.type == "cuda" and device.index is not None and getattr(held, "index", None) != device.index
    )
    if shared and int(os.environ.get("WORLD_SIZE", "1")) == 1 and (shared.get("_mixed_precision") != mixed_precision or moved):
        AcceleratorState._reset_state(reset_partial_state=True)
    return Accelerator(cpu=device.type == "cpu", mixed_precision=mixed_precision, **options)


def training_precision(precision: str, device: torch.device) -> str:
    """accelerate's mixed_precision value: bf16 where the hardware has bf16 units, else none."""
    if precision == "auto":
        if device.type == "cuda":
            return "bf16" if cuda_has_bf16_units(device) else "fp16"
        return "bf16" if cpu_has_bf16_units() else "no"
    if precision == "fp16" and device.type == "cpu":
        raise ConfigError("training.precision fp16 needs a GPU; use auto, bf16 or fp32 on the CPU")
    return {"fp32": "no"}.get(precision, precision)


def epoch_batches(
    windows: list[Window],
    weights: list[float],
    batch_size: int,
    seed: int,
    epoch: int,
    negative_shares: list[float] | None = None,
    substitution: float = 0.0,
) -> list[list[int]]:
    """This epoch's batches of window indices: weighted draw per corpus, then length-grouped.

    A document that has a name-substituted copy (windows of ``variant`` 1) is read this epoch
    as the copy with probability ``substitution``, else as itself: never both, so an epoch
    holds as many documents whatever the share.

    ``negative_shares[source]`` is the share of that corpus's windows *without any span* drawn
    this epoch (a fresh draw each epoch). Why: in MUC-4 six windows in ten hold no span and
    B tags are 0.2% of the labelled cells; with every empty window in, the heads learn "always
    O" first, and the epoch costs twice the time.
    """
    rng = np.random.default_rng([seed, epoch])
    read_as = _document_variants(windows, substitution, seed, epoch)
    by_source: dict[int, list[int]] = {}
    for index, window in enumerate(windows):
        if window.variant == read_as.get((window.source, window.doc), 0):
            by_source.setdefault(window.source, []).append(index)
    chosen: list[int] = []
    for source, indices in sorted(by_source.items()):
        share = 1.0 if negative_shares is None else negative_shares[source]
        if share < 1.0:
            empty = [i for i in indices if not windows[i].has_span]
            keep = int(round(share * len(empty)))
            drawn = set(rng.choice(empty, size=keep, replace=False).tolist()) if keep else set()
            indices = [i for i in indices if windows[i].has_span or i in drawn]
        weight = weights[source]
        whole = int(weight)
        chosen.extend(indices * whole)
        extra = int(round((weight - whole) * len(indices)))
        if extra:
            chosen.extend(rng.choice(indices, size=extra, replace=False).tolist())
    order = rng.permutation(len(chosen))
    chosen = [chosen[i] for i in order]
    # Length grouping: sort within pools of 32 batches to cut padding, then shuffle batches.
    pool = batch_size * 32
    batches: list[list[int]] = []
    for begin in range(0, len(chosen), pool):
        block = sorted(chosen[begin : begin + pool], key=lambda i: len(windows[i]))
        batches.extend(block[i : i + batch_size] for i in range(0, len(block), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def _document_variants(windows: list[Window], share: float, seed: int, epoch: int) -> dict[tuple[int, str], int]:
    """Which variant of each document that has a substituted copy this epoch reads (1: the copy)."""
    copied = sorted({(w.source, w.doc) for w in windows if w.variant == 1})
    if not copied or share <= 0.0:
        return {}
    draws = np.random.default_rng([seed, epoch, 1]).random(len(copied))  # its own stream: other draws unchanged
    return {key: int(draw < share) for key, draw in zip(copied, draws)}


class Trainer:
    def __init__(
        self,
        config: Config,
        *,
        progress: bool = True,
        log: Callable[[str], None] = print,
        stop_after_steps: int | None = None,
    ) -> None:
        self.config = config
        self.progress = progress
        self.log = beside_bars(log)  # dev scores are logged while the step bar is drawn
        self.stop_after_steps = stop_after_steps
        self.run_dir = config.output.resolved_run_dir()
        self.calibration: Calibration | None = None

    # -- setup --------------------------------------------------------------------------------
    def _setup(self) -> None:
        from accelerate.utils import set_seed

        cfg = self.config
        training = cfg.training
        if training.threads:
            torch.set_num_threads(training.threads)
        device = training_device(training.device)
        if device.type == "cuda" and device.index is not None:
            torch.cuda.set_device(device)  # accelerate places a single process on the current GPU
        self.mixed_precision = training_precision(training.precision, device)
        self.accelerator = new_accelerator(device, self.mixed_precision, step_scheduler_with_optimizer=False)
        set_seed(training.seed)
        self.tagset: TagSet = cfg.model.tagset()
        warm_start = load_warm_start(cfg.model.init_from) if cfg.model.init_from else None
        if warm_start is not None:
            self.tokenizer = warm_start.tokenizer
        else:
            key, name = ("model.random.tokenizer", cfg.model.random.tokenizer) if cfg.model.random else \
                ("model.backbone", cfg.model.backbone)
            try:
                self.tokenizer = load_tokenizer(name)
            except BackboneError as error:  # name the config key, as config errors do
                raise BackboneError(f"{key}: {error}") from None
        self.corpora: list[LoadedCorpus] = load_corpora(cfg)
        for corpus in self.corpora:
            leaks = leak_note(corpus.label, corpus.report)
            if leaks:
                self.log(f"warning: {leaks}, and counted in the model's read report")
        check_metric(training.selection_metric, [(c.label, c.dev) for c in self.corpora])
        self.windows: list[Window] = []
        for source, corpus in enumerate(self.corpora):
            self.windows += build_windows(
                corpus.train, self.tokenizer, self.tagset,
                max_length=training.max_length, stride=training.stride, source=source, report=corpus.report,
            )
        if training.name_substitution:
            self._add_substituted_windows()
        for corpus in self.corpora:  # nothing dropped or repaired without a word (examples: the model's read report)
            repaired = corpus.report.summary(exclude=(LEAK_KIND,))
            if repaired:
                self.log(f"{corpus.label}, train and dev as read and encoded: {repaired}")
            unknown = corpus.report.facts.get(UNKNOWN_FACT)
            if unknown:
                self.log(f"{corpus.label}: {unknown} training mentions of arguments left unannotated by the corpus are "
                         "trained as 'O or the role' (coreferent_mentions: unknown)")
        if not self.windows:
            read = "; ".join(
                f"{c.label}: {len(c.train)} training documents, {sum(bool(d.text.strip()) for d in c.train)} with text"
                for c in self.corpora
            )
            raise CorpusError(f"nothing to train on: the training splits give no windows ({read})")
        self.pad_id = special_ids(self.tokenizer)[2]
        model = self._new_model(warm_start)
        self.weights = [c.weight for c in self.corpora]
        self.negative_shares = [c.negative_windows for c in self.corpora]
        processes = self.accelerator.num_processes
        batches = len(self._epoch_batches(0))
        self.steps_per_epoch = max(1, math.ceil(batches / (training.gradient_accumulation * processes)))
        self.total_steps = training.max_steps or max(1, math.ceil(training.epochs * self.steps_per_epoch))
        optimizer = new_adamw(self._param_groups(model), training.learning_rate, self.accelerator.device,
                              fused=training.fused_optimizer)
        from transformers import get_scheduler

        scheduler = get_scheduler(
            {"linear": "linear", "constant": "constant_with_warmup", "cosine": "cosine"}[training.schedule],
            optimizer,
            num_warmup_steps=int(training.warmup_ratio * self.total_steps),
            num_training_steps=self.total_steps,
        )
        self.model, self.optimizer = self.accelerator.prepare(model, optimizer)
        self.average = (WeightAverage(self.accelerator.unwrap_model(self.model), training.weight_average)
                        if training.weight_average else None)
        self.scheduler = scheduler  # checkpointed as JSON by _save_checkpoint, never pickled

    def _new_model(self, warm_start: WarmStart | None) -> RoleTagger:
        """The untrained tagger: on the configured backbone, or carrying a trained model's weights."""
        cfg = self.config.model
        if warm_start is not None:
            backbone = warm_start.new_backbone(cfg.attention_dropout)
        else:
            random = RandomBackbone(**cfg.random.model_dump()) if cfg.random else None
            try:
                backbone = build_backbone(cfg.backbone, random, len(self.tokenizer),
                                          attention_dropout=cfg.attention_dropout)
            except BackboneError as error:
                raise BackboneError(f"model.backbone: {error}") from None
        model = RoleTagger(backbone, len(self.tagset.tags), word_shape=cfg.word_shape, dropout=cfg.dropout)
        if warm_start is not None:
            origins = warm_start.copy_into(model, self.tagset)
            self.log(f"started from {warm_start.folder}: " + ", ".join(
                f"{tag} <- {origin or 'fresh'}" for tag, origin in origins.items()))
        return model

    def _epoch_batches(self, epoch: int) -> list[list[int]]:
        training = self.config.training
        return epoch_batches(self.windows, self.weights, training.batch_size, training.seed, epoch, self.negative_shares,
                             training.name_substitution)

    def _add_substituted_windows(self) -> None:
        """Windows of each training document's name-substituted copy (read in its place, by chance)."""
        training = self.config.training
        pool = NamePool.of([doc for corpus in self.corpora for doc in corpus.train])
        for source, corpus in enumerate(self.corpora):
            copies, count = substituted_copies(corpus.train, pool, training.seed)
            self.windows += build_windows(copies, self.tokenizer, self.tagset, max_length=training.max_length,
                                          stride=training.stride, source=source, variant=1)
            if not count.documents:
                self.log(f"{corpus.label}: no name to replace in its training documents (texts in capitals, or no "
                         "capitalised span that is a name), so no substituted copies")
                continue
            self.log(f"{corpus.label}: a name-substituted copy of {count.documents} of {len(corpus.train)} training "
                     f"documents ({count.names} names, {count.mentions} mentions replaced); each epoch reads the copy "
                     f"in place of its document with probability {training.name_substitution:g}")

    def _param_groups(self, model: RoleTagger) -> list[dict[str, Any]]:
        training = self.config.training
        head_lr = training.head_learning_rate or training.learning_rate * 20
        groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
        for name, param in model.named_parameters():
            is_head = not name.startswith("backbone.")
            no_decay = param.ndim < 2 or "LayerNorm" in name or "layer_norm" in name
            groups.setdefault((is_head, no_decay), []).append(param)
        return [
            {
                "params": params,
                "lr": head_lr if is_head else training.learning_rate,
                "weight_decay": 0.0 if no_decay else training.weight_decay,
            }
            for (is_head, no_decay), params in groups.items()
        ]

    # -- checkpoints -----------------------------------------------------------------------------
    def _save_checkpoint(self, state: TrainerState) -> None:
        acc = self.accelerator
        staging = staging_folder(self.run_dir)
        acc.wait_for_everyone()
        if acc.is_main_process:
            shutil.rmtree(staging, ignore_errors=True)
        acc.wait_for_everyone()
        acc.save_state(str(staging), safe_serialization=True)
        acc.wait_for_everyone()
        if acc.is_main_process:
            (staging / CONFIG_FILE).write_text(json.dumps(config_record(self.config, acc.num_processes), indent=1))
            (staging / SCHEDULER_FILE).write_text(json.dumps(self.scheduler.state_dict(), indent=1))
            if self.average is not None:
                self.average.save(staging / AVERAGE_FILE)
            (staging / STATE_FILE).write_text(json.dumps(asdict(state), indent=1))  # last: complete
            swap_in(self.run_dir)
        acc.wait_for_everyone()

    def _load_checkpoint(self, folder: Path) -> TrainerState:
        self.accelerator.load_state(str(folder))
        self.scheduler.load_state_dict(json.loads((folder / SCHEDULER_FILE).read_text()))
        if self.average is not None:
            self.average.load(folder / AVERAGE_FILE)
        return TrainerState(**json.loads((folder / STATE_FILE).read_text()))

    def _averaged(self) -> Any:
        """Inside the block the model carries the weight average (when training keeps one)."""
        if self.average is None:
            return _null()
        return self.average.applied(self.accelerator.unwrap_model(self.model))

    # -- evaluation ------------------------------------------------------------------------------
    def _tagger(self) -> Tagger:
        model = self.accelerator.unwrap_model(self.model)
        return Tagger(model, self.tokenizer, self._meta(), device=str(self.accelerator.device),
                      precision="bf16" if self.mixed_precision == "bf16" else "fp32", batch_size=32)

    def evaluate(self) -> dict[str, Any]:
        model = self.accelerator.unwrap_model(self.model)
        was_training = model.training
        tagger = self._tagger()
        results: dict[str, Any] = {"corpora": {}}
        f1s = []
        for corpus in self.corpora:
            if not corpus.dev:
                continue
            predicted = tagger.predict_documents(corpus.dev)
            scores = dev_scores(corpus.dev, predicted, self.config.training.selection_metric, self.tagset.roles)
            results["corpora"][corpus.label] = scores
            f1s.append(scores["selection"])
        model.train(was_training)
        results["score"] = float(np.mean(f1s)) if f1s else 0.0
        return results

    def _meta(self, info: dict[str, Any] | None = None) -> ModelMeta:
        model = self.accelerator.unwrap_model(self.model)
        training = self.config.training
        offset = self.calibration.offset if self.calibration is not None else math.log(training.span_weight)
        return ModelMeta(self.tagset, backbone_config_dict(model), self.config.model.word_shape,
                         training.max_length, training.stride, info or {}, offset)

    def _calibrate(self) -> None:
        """Choose the span offset on the dev splits with the best weights loaded."""
        dev_sets = [(c.label, c.dev) for c in self.corpora if c.dev]
        if not self.config.training.calibrate_offset or not dev_sets:
            return
        model = self.accelerator.unwrap_model(self.model)
        was_training = model.training
        tagger = self._tagger()
        calibration = calibrate_offset(tagger, dev_sets, self.config.training.selection_metric)
        model.train(was_training)
        nearest = min(calibration.table, key=lambda row: abs(row["offset"] - tagger.span_logit_offset))
        self.log(f"span offset calibrated on dev: {calibration.offset:+.2f} "
                 f"(dev {self.config.training.selection_metric} {calibration.score:.4f}; "
                 f"{nearest['score']:.4f} at {nearest['offset']:+.2f}, the training loss's own)")
        self.calibration = calibration

    # -- the loop --------------------------------------------------------------------------------
    def train(self, resume: bool = False) -> TrainResult:
        from safetensors.torch import load_file
        from tqdm.auto import tqdm

        check_outputs(self.config.output)  # before minutes of setup and training, not after
        checkpoint = check_run_folder(self.config, resume)
        if checkpoint is not None:  # WORLD_SIZE: set by accelerate launch and torchrun, before accelerate is set up here
            check_resumable(checkpoint, self.config, int(os.environ.get("WORLD_SIZE", "1")))
        self._setup()
        cfg = self.config.training
        acc = self.accelerator
        self.run_dir.mkdir(parents=True, exist_ok=True)
        state = self._load_checkpoint(checkpoint) if checkpoint is not None else TrainerState()
        self._best_state: dict[str, torch.Tensor] | None = None  # the best weights so far
        if resume and (self.run_dir / BEST_WEIGHTS).is_file():
            self._best_state = load_file(str(self.run_dir / BEST_WEIGHTS))
        eval_every = cfg.eval_every or self.steps_per_epoch
        self._has_dev = any(c.dev for c in self.corpora)
        if not self._has_dev:
            self.log("warning: no dev documents in any corpus: nothing to choose a checkpoint, stop early or calibrate "
                     "the span offset on; the weights of the last step are kept")
        note = emulated_precision_note(self.mixed_precision, acc.device, "training.precision")
        if note:
            self.log(note)
        self.log(
            f"training on {acc.device} ({self.mixed_precision if self.mixed_precision != 'no' else 'fp32'}, "
            f"{adamw_kind(self.optimizer, acc.device, asked_fused=cfg.fused_optimizer)}), "
            f"{sum(w.variant == 0 for w in self.windows)} windows from {sum(len(c.train) for c in self.corpora)} documents"
            + (f" (and {sum(w.variant == 1 for w in self.windows)} of their name-substituted copies)"
               if cfg.name_substitution else "") + ", "
            f"{self.total_steps} steps" + (f", resuming at step {state.step}" if resume else "")
        )
        bar = tqdm(total=self.total_steps, initial=state.step, disable=not self.progress or not acc.is_local_main_process,
                   desc="train", unit="step", dynamic_ncols=True)
        self.model.train()
        group = cfg.gradient_accumulation * acc.num_processes
        with self._stop_on_signals():
            self._loop(state, bar, eval_every, group)
        bar.close()
        return self._finish(state, self._best_state)

    @contextlib.contextmanager
    def _stop_on_signals(self) -> Iterator[None]:
        """Ctrl-C or SIGTERM (timeout, docker stop, a batch scheduler) ends the current step, saves a
        checkpoint and stops with the --resume hint; a second Ctrl-C stops at once. One process only:
        under a launcher the processes could stop at different steps and wait for each other."""
        self._stop_signal: str | None = None
        if self.accelerator.num_processes > 1 or threading.current_thread() is not threading.main_thread():
            yield
            return

        def request_stop(signum: int, frame: Any) -> None:
            if self._stop_signal is not None:
                raise KeyboardInterrupt
            self._stop_signal = signal.Signals(signum).name
            self.log(f"{self._stop_signal}: stopping after this step and saving a checkpoint (again to stop at once)")

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _loop(self, state: TrainerState, bar: Any, eval_every: int, group: int) -> None:
        """The optimizer steps from ``state`` on; the best weights so far end in ``self._best_state``."""
        from safetensors.torch import save_file

        cfg = self.config.training
        acc = self.accelerator
        while state.step < self.total_steps and not state.stopped_early:
            batches = self._epoch_batches(state.epoch)
            steps = [batches[i : i + group] for i in range(0, len(batches), group)]
            while state.step_in_epoch < len(steps) and state.step < self.total_steps and not state.stopped_early:
                started = time.perf_counter()
                step = steps[state.step_in_epoch]
                loss_value, subwords = self._optimizer_step(step[acc.process_index :: acc.num_processes], step)
                state.train_seconds += time.perf_counter() - started
                state.train_subwords += subwords
                state.step += 1
                state.step_in_epoch += 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss_value:.4f}", subwords_per_s=f"{state.train_subwords / max(state.train_seconds, 1e-9):.0f}")
                if self._has_dev and (state.step % eval_every == 0 or state.step == self.total_steps):
                    with self._averaged():
                        result = self.evaluate()
                        model = acc.unwrap_model(self.model)
                        improved = result["score"] > state.best_score
                        if improved:
                            self._best_state = {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}
                    state.history.append({"step": state.step, "score": result["score"], "loss": loss_value,
                                          **{f"{name}_micro_f1": r["seqeval"]["micro"]["f1"] for name, r in result["corpora"].items()}})
                    if improved:
                        state.best_score, state.best_step = result["score"], state.step
                        state.evals_without_improvement = 0
                        self.best_dev = result
                        if acc.is_main_process:
                            write_atomically(self.run_dir / BEST_WEIGHTS, lambda tmp: save_file(self._best_state, str(tmp)))
                            text = json.dumps(result, indent=1, default=str)
                            write_atomically(self.run_dir / BEST_DEV, lambda tmp: tmp.write_text(text))
                    else:
                        state.evals_without_improvement += 1
                    self.log(self._eval_line(state, result))
                    if cfg.early_stopping and state.evals_without_improvement >= cfg.early_stopping:
                        self.log(f"early stopping: no improvement in {cfg.early_stopping} evaluations")
                        state.stopped_early = True
                if cfg.checkpoint_every and state.step % cfg.checkpoint_every == 0:
                    self._save_checkpoint(state)
                if self.stop_after_steps is not None and state.step >= self.stop_after_steps:
                    bar.close()
                    raise TrainingInterrupted(f"stopped after step {state.step}")
                if self._stop_signal is not None:
                    self._save_checkpoint(state)
                    bar.close()
                    raise TrainingStopped(
                        f"{self._stop_signal} at step {state.step} of {self.total_steps}: checkpoint saved in "
                        f"{self.run_dir}; continue with the same command and --resume"
                    )
            if state.step_in_epoch >= len(steps):
                state.epoch += 1
                state.step_in_epoch = 0

    def _optimizer_step(self, batches: list[list[int]], step: list[list[int]]) -> tuple[float, int]:
        """One optimizer step over this process's ``batches`` of the ``step``'s batches.

        Each batch weighs the same whatever the processes' shares (DDP averages over processes),
        and a process whose share is empty (the last step of an epoch with fewer batches than
        processes) runs the step's first batch at weight 0: it must join the gradient all-reduce,
        or the other processes wait for it for ever."""
        acc = self.accelerator
        total = 0.0
        subwords = 0
        stand_in = not batches
        run = batches or step[:1]
        for index, batch in enumerate(run):
            tensors = {k: v.to(acc.device) for k, v in collate([self.windows[i] for i in batch], self.pad_id).items()}
            subwords += 0 if stand_in else int(tensors["attention_mask"].sum())
            sync = index == len(run) - 1
            context = acc.no_sync(self.model) if not sync and acc.num_processes > 1 else _null()
            with context, acc.autocast():
                logits = self.model(tensors["input_ids"], tensors["attention_mask"],
                                    tensors["shapes"] if self.config.model.word_shape else None)
                # (x * 1) / n is x / n to the bit in one process, as the recorded runs computed it
                loss = tagging_loss(logits, tensors["labels"], self.config.training.span_weight) * acc.num_processes / len(step)
                if stand_in:
                    loss = loss * 0.0
            acc.backward(loss)
            total += float(loss.detach())
        acc.clip_grad_norm_(self.model.parameters(), self.config.training.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.average is not None:
            self.average.update(acc.unwrap_model(self.model))
        return total, subwords

    def _eval_line(self, state: TrainerState, result: dict[str, Any]) -> str:
        metric = self.config.training.selection_metric
        parts = [f"step {state.step}: dev {metric} micro F1 {result['score']:.4f}"]
        for name, scores in result["corpora"].items():
            roles = ", ".join(
                f"{role} {values['f1']:.3f}" for role, values in scores["seqeval"].items()
                if role not in ("micro", "macro") and isinstance(values, dict) and "f1" in values
            )
            ceaf = f"; CEAF-REE {scores['ceaf']['scores']['micro']['f1']:.3f}" if "ceaf" in scores else ""
            parts.append(f"  {name}: seqeval {scores['seqeval']['micro']['f1']:.3f} ({roles}){ceaf}")
        return "\n".join(parts)

    def _finish(self, state: TrainerState, best_state: dict[str, torch.Tensor] | None) -> TrainResult:
        acc = self.accelerator
        model = acc.unwrap_model(self.model)
        if not self._has_dev:  # nothing to choose by: the last step's weights (their average, if kept)
            with self._averaged():
                best_state = {k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}
            state.best_step = state.step
        if best_state is not None:
            model.load_state_dict(best_state)
        self._calibrate()
        best_dev = getattr(self, "best_dev", None)
        if best_dev is None and self._has_dev and (self.run_dir / BEST_DEV).is_file():  # a resumed run's best so far
            best_dev = json.loads((self.run_dir / BEST_DEV).read_text())
        if self._has_dev and not (best_dev or {}).get("score"):
            self.log(f"warning: the model found nothing on dev (F1 0 at every evaluation) after {state.step} steps: "
                     "too few for it to learn the roles; raise training.epochs (or learning_rate) and train again")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if torch.cuda.is_available():
            peak_mb = max(peak_mb, torch.cuda.max_memory_allocated() / 2**20)
        stats = {
            "steps": state.step,
            "best_step": state.best_step,
            "train_seconds": round(state.train_seconds, 1),
            "train_subwords_per_s": round(state.train_subwords / max(state.train_seconds, 1e-9), 1),
            "peak_memory_mb": round(peak_mb, 1),
            "precision": self.mixed_precision if self.mixed_precision != "no" else "fp32",
            "device": str(acc.device),
            "processes": acc.num_processes,
        }
        info = {
            "config": self.config.model_dump(mode="json"),
            "corpora": [{"label": c.label, **c.source, "train_documents": len(c.train), "dev_documents": len(c.dev),
                         "fingerprint": c.fingerprint(),
                         "roles": sorted(set().union(*(d.roles for d in c.train))),
                         "read_report": c.report.as_dict()["adjusted_or_dropped"]} for c in self.corpora],
            "dev_metrics": best_dev,
            "calibration": self.calibration.as_dict() if self.calibration is not None else None,
            "training": {**stats, "history": state.history},
        }
        out = self.config.output.dir
        if acc.is_main_process:
            save_model(model, self.tokenizer, self._meta(info), out)
            discard(self.run_dir)  # the model folder holds the result; a later run starts afresh
        acc.wait_for_everyone()
        return TrainResult(out, best_dev or {}, state, stats, self.calibration)


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *args: Any) -> None:
        return None


def train(config: Config, *, resume: bool = False, progress: bool = True,
          log: Callable[[str], None] = print, stop_after_steps: int | None = None) -> TrainResult:
    """Train a model from a validated config; returns where it was written and its dev scores."""
    return Trainer(config, progress=progress, log=log, stop_after_steps=stop_after_steps).train(resume=resume)
