"""Where a model runs and in what precision, in one place for ``embed``, ``llm`` and ``tune``.

CPU features (native bf16), the device (CUDA when available), the precision a device runs well, torch's
intra-op thread count, and loading a Hugging Face tokenizer / causal LM with a precision by name. A leaf:
imports nothing from ragtune but the error tree, and torch/transformers only inside the functions that use them.

Precision policy. CUDA: bf16 where the GPU supports it, else fp16. CPU: bf16 only when the CPU runs bf16 natively
(AMX / AVX-512 BF16), else fp32 — emulated bf16 on CPU is slower than fp32 (shared/MEASUREMENTS.md).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from ragtune.errors import ConfigError

PRECISIONS = ("fp32", "bf16", "fp16")

# torch.set_num_threads is process-wide: callers that change it for a while take this lock.
_THREADS_LOCK = threading.RLock()


@cache
def cpu_has_bf16() -> bool:
    """True when this CPU runs bf16 matrix products natively (AMX or AVX-512 BF16)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def cuda_available() -> bool:
    """True when torch sees a CUDA device."""
    import torch

    return bool(torch.cuda.is_available())


def choose_device(device: str | None = None) -> str:
    """``device`` as given, or (None / ``"auto"``) CUDA when available, else CPU."""
    if device and device != "auto":
        return device
    return "cuda" if cuda_available() else "cpu"


def auto_precision(device: str) -> str:
    """The precision ``device`` runs fastest without emulation: see the module docstring."""
    if device.startswith("cuda"):
        import torch

        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_has_bf16() else "fp32"


def torch_dtype(precision: str) -> Any:
    """The ``torch.dtype`` for a precision name (``fp32``, ``bf16``, ``fp16``)."""
    import torch

    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    if precision not in dtypes:
        raise ConfigError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    return dtypes[precision]


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with torch's intra-op thread count at ``threads`` (None or 0: unchanged), then restore it."""
    import torch

    if not threads or threads == torch.get_num_threads():
        yield
        return
    with _THREADS_LOCK:
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def set_torch_threads(threads: int | None) -> None:
    """Set torch's intra-op thread count for the rest of the process (None or 0: unchanged)."""
    if threads:
        import torch

        torch.set_num_threads(threads)


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split(".")[:2]:
        digits = "".join(c for c in part if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def dtype_keyword() -> str:
    """The ``from_pretrained`` keyword for the weights' dtype: transformers renamed ``torch_dtype`` in 4.56."""
    import transformers

    return "dtype" if _version(transformers.__version__) >= (4, 56) else "torch_dtype"


def load_tokenizer(name_or_path: str | Path, **kwargs: Any) -> Any:
    """``AutoTokenizer.from_pretrained``; exceptions pass through for the caller to name the model."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(name_or_path), **kwargs)


def load_causal_lm(name_or_path: str | Path, *, dtype: Any = "fp32", **kwargs: Any) -> Any:
    """``AutoModelForCausalLM.from_pretrained`` with the weights in ``dtype`` (a precision name or a torch dtype).

    Exceptions pass through for the caller to name the model."""
    from transformers import AutoModelForCausalLM

    value = torch_dtype(dtype) if isinstance(dtype, str) else dtype
    return AutoModelForCausalLM.from_pretrained(str(name_or_path), **{dtype_keyword(): value}, **kwargs)


def causal_lm_from_config(config: Any, *, dtype: Any = "fp32") -> Any:
    """``AutoModelForCausalLM.from_config`` with the weights in ``dtype`` (a precision name or a torch dtype)."""
    from transformers import AutoModelForCausalLM

    value = torch_dtype(dtype) if isinstance(dtype, str) else dtype
    return AutoModelForCausalLM.from_config(config, **{dtype_keyword(): value})
