"""``eventroles benchmark speed``: the project's CPU paths against the standard pipeline (issue 10).

The same articles are labelled, after a warm-up, by (a) the project's default path
(``precision="auto"``), (b) its fp32 path, (c) its int8 path (dynamic quantisation) and (d) the
baseline, HF ``pipeline("token-classification", aggregation_strategy="simple", stride=...)`` in
fp32 on a plain ``AutoModelForTokenClassification`` with our backbone config and weights, window
and label count (3 × tag heads, head weights copied too, so the compute is the same; its labels
are not compared, only its speed).

How it measures, and why:
- each path runs in its own spawned process (``isolate=True``), loaded and warmed up one after
  the other; then ``repeats`` rounds label all articles with each path in turn (only one
  process computes at any time, and rounds interleave the paths so that a busy neighbour on a
  shared machine slows them alike); a path's speed is its best round;
- peak memory of a path is its process's peak resident set (``ru_maxrss``) minus the resident
  set after importing torch and transformers and before loading the model: model weights,
  activations and everything labelling needed. With ``isolate=False`` (tests) paths share one
  process and the peak is sampled from ``/proc/self/statm`` every few milliseconds instead;
- when ``auto`` resolves to fp32 (a CPU without bf16 matrix units) path (a) *is* path (b), so its
  measurement is reused (``project_is_fp32_path``) rather than timed twice;
- speeds are words/s (``eventroles.data.words`` words, backbone-independent) and articles/s; the
  limits and FLOP model are in ``speed_limits.py``; span agreement is span-level F1 on exact
  ``(start, end, role)`` with the fp32 path as reference.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import sys
import threading
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from eventroles.data.readers.jsonl import iter_json_lines
from eventroles.data.words import split_words

from .speed_limits import flops_per_subword, limit_words_per_s, machine_info, matmul_peaks

SpanSet = frozenset[tuple[int, int, str]]
PATHS = ("project", "fp32", "int8", "baseline")
PATH_PRECISION = {"project": "auto", "fp32": "fp32", "int8": "int8", "baseline": "fp32"}


class BenchmarkInputError(ValueError):
    """An input file the benchmark cannot read (the message names file and line)."""


@dataclass
class SpeedOptions:
    limit: int | None = None  # first N articles
    batch_size: int = 32  # windows per forward pass on the project's paths
    threads: int | None = None  # torch threads in every path (default: torch's current setting)
    repeats: int = 1  # timed rounds over all articles; the best counts
    warmup: int = 8  # articles labelled once before timing
    skip_baseline: bool = False
    baseline_batch_size: int = 1  # the pipeline's default
    isolate: bool = True  # one process per path (honest peak memory)
    peak_budget_s: float = 0.5  # seconds spent measuring each precision's matmul peak


# -- input ------------------------------------------------------------------------------------
def read_texts(path: Path, limit: int | None = None) -> tuple[list[str], int]:
    """The ``text`` of each JSON line (the project's JSONL or plain ``{"text": ...}`` lines), and
    how many lines were skipped because their text is empty or only spaces (no words to time)."""
    texts: list[str] = []
    empty = 0
    for number, record in iter_json_lines(Path(path)):
        text = record.get("text") if isinstance(record, dict) else None
        if not isinstance(text, str):
            raise BenchmarkInputError(f'{path}, line {number}: no "text" string field')
        if not split_words(text):
            empty += 1
            continue
        texts.append(text)
        if limit is not None and len(texts) >= limit:
            break
    if not texts:
        raise BenchmarkInputError(f"{path}: no articles to label" + (f" ({empty} with empty text)" if empty else ""))
    return texts, empty


# -- agreement --------------------------------------------------------------------------------
def span_agreement(reference: Sequence[SpanSet], other: Sequence[SpanSet]) -> float:
    """Span-level F1 of ``other`` against ``reference`` over all documents (1.0 when both are empty)."""
    if len(reference) != len(other):
        raise ValueError("span agreement needs the same documents on both sides")
    both = sum(len(r & o) for r, o in zip(reference, other))
    total = sum(len(r) + len(o) for r, o in zip(reference, other))
    return 1.0 if total == 0 else 2.0 * both / total


# -- memory -----------------------------------------------------------------------------------
def current_rss() -> int | None:
    """Resident set size in bytes (Linux), else None."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    import os

    return pages * os.sysconf("SC_PAGE_SIZE")


def max_rss() -> int:
    """This process's peak resident set in bytes (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


class PeakSampler:
    """Samples the resident set every ``interval`` seconds in a thread; ``peak`` is the highest."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.peak = current_rss() or 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, current_rss() or 0)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, current_rss() or 0)


# -- one path, in the process that runs it ----------------------------------------------------
@dataclass
class PathArgs:
    name: str
    model_dir: str
    threads: int
    batch_size: int
    baseline_batch_size: int
    warmup: int
    isolated: bool


def plain_token_classifier(model: Any, meta: Any) -> Any:
    """A plain ``AutoModelForTokenClassification`` with our backbone and head weights."""
    from transformers import AutoConfig, AutoModelForTokenClassification

    config_dict = dict(meta.backbone_config)
    config = AutoConfig.for_model(config_dict.pop("model_type"), **config_dict)
    config.num_labels = model.heads.out_features
    plain = AutoModelForTokenClassification.from_config(config)
    plain.base_model.load_state_dict(model.backbone.state_dict())
    plain.classifier.load_state_dict(model.heads.state_dict())
    return plain.eval()


def _baseline_labeller(args: PathArgs) -> tuple[Callable[[list[str]], None], str]:
    from transformers import pipeline

    from eventroles.models.storage import load_model

    model, tokenizer, meta = load_model(Path(args.model_dir))
    plain = plain_token_classifier(model, meta)
    del model
    tokenizer.model_max_length = meta.max_length
    pipe = pipeline(
        "token-classification", model=plain, tokenizer=tokenizer, aggregation_strategy="simple",
        stride=meta.stride, device="cpu",
    )

    def label(texts: list[str]) -> None:
        pipe(texts, batch_size=args.baseline_batch_size)

    return label, "fp32"


def _project_labeller(args: PathArgs) -> tuple[Callable[[list[str]], list[SpanSet]], str]:
    from eventroles.models.inference import Tagger

    tagger = Tagger.load(args.model_dir, device="cpu", precision=PATH_PRECISION[args.name], batch_size=args.batch_size)

    def label(texts: list[str]) -> list[SpanSet]:
        return [frozenset((s["start"], s["end"], s["role"]) for s in spans) for spans in tagger(texts)]

    return label, tagger.precision


class PathRun:
    """One path loaded and warmed up; ``run`` times one pass over the articles."""

    def __init__(self, args: PathArgs, texts: list[str]) -> None:
        import torch
        import transformers  # noqa: F401 - imported before the "before" point, for every path alike

        torch.set_num_threads(args.threads)
        os.environ["RAYON_NUM_THREADS"] = str(args.threads)  # the fast tokenizer's pool, as torch's
        self.args = args
        self.texts = texts
        self.rss_before = current_rss() or 0
        self.sampler = PeakSampler()
        make = _baseline_labeller if args.name == "baseline" else _project_labeller
        self.label, self.precision = make(args)
        self.label(texts[: max(1, args.warmup)])

    def run(self) -> dict[str, Any]:
        cpu, start = time.process_time(), time.perf_counter()
        spans = self.label(self.texts)
        return {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu, "spans": spans}

    def memory(self) -> dict[str, Any]:
        sampled = self.sampler.stop()
        peak = max_rss() if self.args.isolated else sampled
        out = {"peak_memory_mb": round(max(0, peak - self.rss_before) / 2**20, 1)}
        if self.args.isolated:
            out["process_peak_rss_mb"] = round(peak / 2**20, 1)
        return out


def _serve(conn: Any, args: PathArgs, texts: list[str]) -> None:
    """Worker process: load, warm up, then answer ``run`` and ``close`` requests."""
    try:
        path = PathRun(args, texts)
        conn.send(("ready", path.precision))
        while True:
            if conn.recv() == "run":
                conn.send(("ok", path.run()))
            else:
                conn.send(("ok", path.memory()))
                return
    except BaseException as error:  # noqa: BLE001 - everything goes back to the parent
        from eventroles.models.backbone import BackboneError
        from eventroles.models.storage import ModelFolderError

        if isinstance(error, (ModelFolderError, BackboneError, BenchmarkInputError)):  # the user's to fix: one line
            conn.send(("user_error", str(error)))
        else:
            conn.send(("error", traceback.format_exc()))


class RemotePath:
    """A path in its own spawned process, driven over a pipe."""

    def __init__(self, args: PathArgs, texts: list[str]) -> None:
        context = multiprocessing.get_context("spawn")
        self.name = args.name
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, args, texts), daemon=True)
        self.process.start()
        child.close()
        self.precision = self._answer()

    def _answer(self) -> Any:
        try:
            kind, value = self.conn.recv()
        except EOFError:
            self.process.join(5)
            raise RuntimeError(f"the {self.name} path's process died (exit code {self.process.exitcode})") from None
        if kind == "user_error":
            self.process.join(5)
            raise BenchmarkInputError(value)
        if kind == "error":
            self.process.join(5)
            raise RuntimeError(f"the {self.name} path failed:\n{value}")
        return value

    def run(self) -> dict[str, Any]:
        self.conn.send("run")
        return self._answer()

    def memory(self) -> dict[str, Any]:
        self.conn.send("close")
        out = self._answer()
        self.process.join(30)
        return out

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


# -- the benchmark ----------------------------------------------------------------------------
def corpus_shape(model_dir: Path, texts: list[str]) -> dict[str, Any]:
    """Words, subwords and the project's windows over ``texts`` (the FLOP model's inputs)."""
    from transformers import AutoTokenizer

    from eventroles.models.inference import document_windows
    from eventroles.models.storage import read_meta

    meta = read_meta(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), use_fast=True, trust_remote_code=False)
    tokenizer.model_max_length = 10**9
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]]
    windows = [e - s + 2 for n in lengths for s, e in document_windows(n, meta.max_length, meta.stride) if e > s]
    words = sum(len(split_words(text)) for text in texts)
    window_tokens = sum(windows)
    return {
        "articles": len(texts),
        "words": words,
        "subwords": sum(lengths),
        "subwords_per_word": sum(lengths) / max(words, 1),
        "windows": len(windows),
        "window_tokens": window_tokens,
        "window_tokens_per_word": window_tokens / max(words, 1),
        # Each token attends to its window: the token-weighted mean is exact for the total.
        "mean_window_length": sum(w * w for w in windows) / max(window_tokens, 1),
        "max_length": meta.max_length,
        "stride": meta.stride,
        "n_outputs": 1 + 2 * len(meta.tagset.tags),  # the heads: O, then B and I per tag (models/network.py)
        "backbone_config": meta.backbone_config,
    }


def _start_paths(names: list[str], base: PathArgs, texts: list[str], log: Callable[[str], None]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for name in names:
        log(f"loading and warming up the {name} path")
        args = PathArgs(**{**asdict(base), "name": name})
        paths[name] = RemotePath(args, texts) if base.isolated else PathRun(args, texts)
    return paths


def _measure(
    paths: dict[str, Any], repeats: int, log: Callable[[str], None]
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in paths}
    for round_ in range(repeats):
        for name, path in paths.items():
            log(f"round {round_ + 1}/{repeats}: {name}")
            runs[name].append(path.run())
    memory = {name: path.memory() for name, path in paths.items()}
    return runs, memory


def _path_result(name: str, precision: str, runs: list[dict[str, Any]], memory: dict[str, Any], shape: dict[str, Any],
                 limit: float | None) -> dict[str, Any]:
    best = min(run["seconds"] for run in runs)
    words_per_s = shape["words"] / best
    return {
        "precision": precision,
        "words_per_s": words_per_s,
        "articles_per_s": shape["articles"] / best,
        "seconds": [round(run["seconds"], 3) for run in runs],
        "cpu_seconds": [round(run["cpu_seconds"], 3) for run in runs],
        **memory,
        "limit_words_per_s": limit,
        "share_of_limit": words_per_s / limit if limit else None,
    }


def benchmark_speed(
    model_dir: Path, input_path: Path, options: SpeedOptions | None = None, log: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Run the speed benchmark; returns the JSON-ready results (keys as issue 10 names them)."""
    import torch

    from eventroles.models.precision import resolve_precision
    from eventroles.models.storage import read_meta

    options = options or SpeedOptions()
    log = log or (lambda message: None)
    model_dir = Path(model_dir)
    read_meta(model_dir)  # a clear error for a missing or incomplete folder, before any work
    texts, empty = read_texts(Path(input_path), options.limit)
    if empty:
        log(f"{empty} article(s) with empty text skipped (no words to time)")
    threads = options.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    shape = corpus_shape(model_dir, texts)
    auto = resolve_precision("auto", torch.device("cpu"))
    names = ([] if auto == "fp32" else ["project"]) + ["fp32", "int8"] + ([] if options.skip_baseline else ["baseline"])
    base = PathArgs("", str(model_dir), threads, options.batch_size, options.baseline_batch_size, options.warmup, options.isolate)
    paths = _start_paths(names, base, texts, log)
    try:
        runs, memory = _measure(paths, options.repeats, log)
    finally:
        for path in paths.values():
            if isinstance(path, RemotePath):
                path.kill()
    if "project" not in runs:
        runs["project"], memory["project"] = runs["fp32"], memory["fp32"]
    precisions = {name: (paths[name].precision if name in paths else auto) for name in runs}

    log("measuring matrix-multiply peaks")
    peaks = matmul_peaks(shape["backbone_config"], budget_s=options.peak_budget_s)
    flops = flops_per_subword(shape["backbone_config"], shape["n_outputs"], shape["mean_window_length"])
    limits = {p: limit_words_per_s(flops, shape["subwords_per_word"], peaks, p) for p in set(precisions.values()) | {"fp32"}}
    result_paths = {
        name: _path_result(name, precisions[name], runs[name], memory[name], shape, limits[precisions[name]])
        for name in PATHS if name in runs
    }
    return _summary(result_paths, runs, shape, peaks, flops, limits, precisions, options, threads, str(input_path), auto, empty)


def _summary(paths: dict[str, dict[str, Any]], runs: dict[str, list[dict[str, Any]]], shape: dict[str, Any],
             peaks: dict[str, float], flops: Any, limits: dict[str, float | None], precisions: dict[str, str],
             options: SpeedOptions, threads: int, input_path: str, auto: str, empty: int) -> dict[str, Any]:
    baseline = paths.get("baseline", {}).get("words_per_s")

    def ratio(name: str) -> float | None:
        return paths[name]["words_per_s"] / baseline if baseline else None

    for name, path in paths.items():
        path["ratio"] = ratio(name)
    reference = runs["fp32"][0]["spans"]
    return {
        "baseline_words_per_s": baseline,
        "project_words_per_s": paths["project"]["words_per_s"],
        "fp32_words_per_s": paths["fp32"]["words_per_s"],
        "int8_words_per_s": paths["int8"]["words_per_s"],
        "ratio": ratio("project"),
        "fp32_ratio": ratio("fp32"),
        "int8_ratio": ratio("int8"),
        "span_agreement": span_agreement(reference, runs["project"][0]["spans"]),
        "int8_span_agreement": span_agreement(reference, runs["int8"][0]["spans"]),
        "precision": precisions["project"],
        "limit_words_per_s": limits[precisions["project"]],
        "fp32_limit_words_per_s": limits["fp32"],
        "project_is_fp32_path": auto == "fp32",
        "paths": paths,
        "peaks_gflop_per_s": {name: value / 1e9 for name, value in peaks.items()},
        "model": {
            "flops_per_subword": flops.total,
            "linear_flops_per_subword": flops.linear,
            "attention_flops_per_subword": flops.attention,
            **{k: shape[k] for k in ("mean_window_length", "max_length", "stride", "n_outputs")},
        },
        "data": {"input": input_path, "empty_articles_skipped": empty, **{k: shape[k] for k in (
            "articles", "words", "subwords", "subwords_per_word", "windows", "window_tokens", "window_tokens_per_word")}},
        "settings": {**asdict(options), "threads": threads},
        "machine": machine_info(threads),
    }
