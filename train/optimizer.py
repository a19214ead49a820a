"""The trainer's optimizer: AdamW, fused where torch has a fused kernel for the device.

Why fused by default: with batches of four windows a step's matrix multiplies are small, and
torch's per-tensor AdamW loop (``div``, ``sqrt``, ``addcdiv`` over ~100 tensors) took a third of
each step on a 2-core CPU (profile in docs/benchmarks.md); the fused kernel updates every weight
in one pass. Both compute the same update; they round differently, so a seed's numbers differ a
little between them (``training.fused_optimizer: false`` repeats the loop's runs exactly).
"""

from __future__ import annotations

from typing import Any

import torch


def fused_adamw_supported(device: torch.device) -> bool:
    """Whether torch has a fused AdamW kernel for ``device``'s kind (CPU and CUDA do in torch 2.4+)."""
    try:
        from torch.utils._foreach_utils import _get_fused_kernels_supported_devices
    except ImportError:  # a torch without the helper: older than the fused CPU kernel
        return device.type == "cuda"
    return device.type in _get_fused_kernels_supported_devices()


def new_adamw(
    param_groups: list[dict[str, Any]], learning_rate: float, device: torch.device, *, fused: bool
) -> torch.optim.AdamW:
    """AdamW over ``param_groups``; fused when asked and ``device`` has the kernel, else the loop."""
    use_fused = fused and fused_adamw_supported(device)
    return torch.optim.AdamW(param_groups, lr=learning_rate, fused=True if use_fused else None)


def adamw_kind(optimizer: torch.optim.Optimizer, device: torch.device, *, asked_fused: bool) -> str:
    """How AdamW runs, for a run's start line; a fused kernel asked for but missing is said."""
    if optimizer.param_groups[0].get("fused"):
        return "fused AdamW"
    if asked_fused and not fused_adamw_supported(device):
        return f"AdamW per-tensor loop: torch has no fused AdamW for {device.type}"
    if asked_fused:  # a checkpoint written before the key existed carries the loop in its state
        return "AdamW per-tensor loop, as the resumed checkpoint ran"
    return "AdamW per-tensor loop"
