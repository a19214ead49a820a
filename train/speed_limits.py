"""How fast this machine could label words at best, so that a measured speed can be read as a
share of it (issue 10).

Two halves, both measured or computed on the spot:

- the model's FLOPs per subword, from its backbone config: 2 × the weights each subword touches
  in Linear layers (query, key, value, output, the two feed-forward layers, the tag heads) plus
  attention scores and context, 4 × window length × hidden size per layer. Embedding look-ups,
  layer norms, softmax and activations are not counted (no multiply-accumulates worth naming);
- the matrix-multiply peak of each precision: a few large Linear products with the model's
  hidden sizes, in fp32, under bf16 autocast, and through an int8 dynamically quantised Linear
  (its cost of quantising the activations included, as in real use).

``limit_words_per_s = 1 / (seconds per subword × subwords per word)``, where seconds per subword
is linear FLOPs ÷ the precision's Linear peak + attention FLOPs ÷ its attention peak (int8
quantises Linear layers only, so its attention runs at the fp32 peak), and subwords per word is
the documents' own count (no window overlap, no special tokens: those are overhead of a path).
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

# Config keys for the same quantity across architectures (BERT-like, DistilBERT, BART-like).
HIDDEN_KEYS = ("hidden_size", "dim", "d_model")
INTERMEDIATE_KEYS = ("intermediate_size", "hidden_dim", "ffn_dim", "encoder_ffn_dim")
LAYER_KEYS = ("num_hidden_layers", "n_layers", "num_layers", "encoder_layers")

PEAK_PRECISIONS = ("fp32", "bf16", "int8")


@dataclass(frozen=True)
class ModelFlops:
    """FLOPs per subword of one forward pass, split by where they run."""

    linear: float
    attention: float

    @property
    def total(self) -> float:
        return self.linear + self.attention


def _config_value(config: Mapping[str, Any], keys: tuple[str, ...]) -> int:
    for key in keys:
        if config.get(key):
            return int(config[key])
    raise ValueError(f"backbone config has none of {', '.join(keys)}: cannot count its FLOPs")


def model_sizes(config: Mapping[str, Any]) -> tuple[int, int, int]:
    """``(hidden, intermediate, layers)`` of a saved backbone config."""
    return (
        _config_value(config, HIDDEN_KEYS),
        _config_value(config, INTERMEDIATE_KEYS),
        _config_value(config, LAYER_KEYS),
    )


def flops_per_subword(config: Mapping[str, Any], n_outputs: int, window_length: float) -> ModelFlops:
    """FLOPs per subword of a transformer encoder with a Linear head of ``n_outputs`` scores.

    ``window_length`` is the number of positions each subword attends to (the token-weighted
    mean window length, special tokens included).
    """
    hidden, intermediate, layers = model_sizes(config)
    per_layer = 4 * hidden * hidden + 2 * hidden * intermediate  # q, k, v, o + feed-forward in/out
    linear = 2.0 * (layers * per_layer + hidden * n_outputs)
    attention = 4.0 * layers * window_length * hidden  # q·k scores and probabilities·v
    return ModelFlops(linear, attention)


def attention_precision(precision: str) -> str:
    """The precision attention runs in on a path of ``precision`` (int8 quantises Linear only)."""
    return "fp32" if precision == "int8" else precision


def limit_words_per_s(
    flops: ModelFlops, subwords_per_word: float, peaks: Mapping[str, float], precision: str
) -> float | None:
    """Words/s at the matrix-multiply peak of ``precision``; None when a peak is unknown."""
    linear_peak = peaks.get(precision)
    attention_peak = peaks.get(attention_precision(precision))
    if not linear_peak or not attention_peak or subwords_per_word <= 0:
        return None
    seconds = flops.linear / linear_peak + flops.attention / attention_peak
    return 1.0 / (seconds * subwords_per_word)


def _linear_for(precision: str, n_in: int, n_out: int) -> Any:
    import torch

    layer = torch.nn.Linear(n_in, n_out).eval()
    if precision == "int8":
        from eventroles.models.precision import quantize_int8

        layer = quantize_int8(torch.nn.Sequential(layer))
    return layer


def _timed_call(layer: Any, x: Any, precision: str) -> float:
    import torch

    start = time.perf_counter()
    with torch.inference_mode():
        if precision == "bf16":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                layer(x)
        else:
            layer(x)
    return time.perf_counter() - start


def linear_peak(precision: str, n_in: int, n_out: int, rows: int = 2048, budget_s: float = 0.5) -> float:
    """Best FLOP/s of ``Linear(n_in, n_out)`` on ``[rows, n_in]`` fp32 inputs at ``precision``.

    A small calibration call first sizes the product so that a slow precision (bf16 on a CPU
    without bf16 units runs at a few GFLOP/s) still finishes within about ``budget_s``.
    """
    import torch

    layer = _linear_for(precision, n_in, n_out)
    probe = 64
    _timed_call(layer, torch.randn(probe, n_in), precision)  # first call: kernel selection
    rate = 2.0 * probe * n_in * n_out / max(_timed_call(layer, torch.randn(probe, n_in), precision), 1e-9)
    rows = int(min(rows, max(probe, rate * budget_s / 8 / (2.0 * n_in * n_out))))
    x = torch.randn(rows, n_in)
    best = _timed_call(layer, x, precision)
    spent = best
    while spent < budget_s:
        elapsed = _timed_call(layer, x, precision)
        best = min(best, elapsed)
        spent += elapsed
    return 2.0 * rows * n_in * n_out / best


def matmul_peaks(
    config: Mapping[str, Any], precisions: tuple[str, ...] = PEAK_PRECISIONS, rows: int = 2048, budget_s: float = 0.5
) -> dict[str, float]:
    """FLOP/s per precision: the best over the model's Linear shapes (h×h, h×i, i×h)."""
    hidden, intermediate, _ = model_sizes(config)
    shapes = ((hidden, hidden), (hidden, intermediate), (intermediate, hidden))
    return {
        precision: max(linear_peak(precision, n_in, n_out, rows, budget_s / len(shapes)) for n_in, n_out in shapes)
        for precision in precisions
    }


def cpu_model_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="ignore").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(threads: int) -> dict[str, Any]:
    """What the numbers were measured on: CPU, bf16 units, threads, library versions, load."""
    import torch
    import transformers

    from eventroles.models.precision import cpu_has_bf16_units

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count() or 1
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpu": cpu_model_name(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "bf16_units": cpu_has_bf16_units(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "threads": threads,
        "load_average": load,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
    }
