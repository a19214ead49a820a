"""Device and numeric precision choices, made once and said out loud.

``auto`` picks bf16 where the hardware multiplies bf16 natively (CPUs with AMX or AVX512-BF16,
GPUs with bf16 support) and fp32 elsewhere; ``int8`` is dynamic quantisation of the Linear
layers for CPUs without bf16 units.
"""

from __future__ import annotations

import contextlib
import re
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")


@lru_cache(maxsize=1)
def cpu_has_bf16_units() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="ignore")
    except OSError:
        return False
    return any(flag in flags for flag in (" amx_bf16", " avx512_bf16"))


DEVICE_PATTERN = re.compile(r"^(auto|cpu(:\d+)?|mps|cuda(:\d+)?)$")  # cpu:0 is what accelerate names a process's CPU


def resolve_device(device: str = "auto") -> torch.device:
    if not isinstance(device, str) or not DEVICE_PATTERN.match(device):
        raise ValueError(f"device must be auto, cpu, cuda, cuda:N or mps, not {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but no CUDA GPU is available")
    index = torch.device(device).index
    if device.startswith("cuda") and index is not None and index >= torch.cuda.device_count():
        raise ValueError(f"device {device!r} asked for, but this machine has {torch.cuda.device_count()} GPU(s): "
                         f"cuda:0 to cuda:{torch.cuda.device_count() - 1}")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' asked for, but Apple's Metal backend is not available here")
    return torch.device(device)


def cuda_has_bf16_units(device: torch.device) -> bool:
    """Whether this GPU multiplies bf16 natively (Ampere, compute capability 8.0, and later).
    ``torch.cuda.is_bf16_supported()`` also says yes where bf16 is only emulated (V100, T4), slowly."""
    return torch.cuda.get_device_capability(device) >= (8, 0)


def resolve_precision(precision: str, device: torch.device) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision != "auto":
        if precision == "int8" and device.type != "cpu":
            raise ValueError("int8 dynamic quantisation runs on the CPU only")
        return precision
    if device.type == "cuda":
        return "bf16" if cuda_has_bf16_units(device) else "fp16"
    return "bf16" if cpu_has_bf16_units() else "fp32"


def emulated_precision_note(precision: str, device: torch.device, setting: str = "--precision") -> str | None:
    """A warning where an explicitly chosen half precision has no hardware units to run on.

    Why: on a CPU without avx512_bf16/amx_bf16 (or a GPU before compute capability 8.0) bf16 is
    emulated; measured on such a CPU (AMD EPYC without AVX-512), labelling 94 articles took 38 s
    in bf16 against 12 s in fp32 -- the user asked for speed and got a third of it."""
    if precision != "bf16":
        return None
    if device.type == "cpu" and not cpu_has_bf16_units():
        return ("warning: this CPU has no bf16 units (avx512_bf16 or amx_bf16): bf16 is emulated here and slower "
                f"than fp32 ({setting} auto picks fp32 on it)")
    if device.type == "cuda" and not cuda_has_bf16_units(device):
        return (f"warning: this GPU has no bf16 units (compute capability below 8.0): bf16 is emulated; fp16 is "
                f"faster ({setting} auto picks it)")
    return None


@contextlib.contextmanager
def autocast(device: torch.device, precision: str) -> Iterator[None]:
    if precision in ("bf16", "fp16"):
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        with torch.autocast(device.type, dtype=dtype):
            yield
    else:
        yield


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantisation of every Linear layer (CPU inference only)."""
    from torch.ao.quantization import quantize_dynamic

    return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
