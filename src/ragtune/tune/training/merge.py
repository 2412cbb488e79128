"""Merge a registered LoRA model into a full checkpoint (``merge_and_unload``) for serving elsewhere (vLLM, TGI,
``hf:DIR``). Written beside the target and renamed into place, so a killed merge leaves no half checkpoint."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ragtune.errors import ConfigError, ModelError
from ragtune.tune.registry import RegisteredModel


def merge_model(model: RegisteredModel, out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``model`` (base + adapter, merged; or a full fine-tune, copied) and its tokenizer to ``out_dir``."""
    out = Path(out_dir).resolve()
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"{out}: exists and is not empty (use --overwrite)")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        if model.method == "full":
            shutil.copytree(model.path, staging, dirs_exist_ok=True)
        else:
            _merge_lora(model, staging)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _merge_lora(model: RegisteredModel, target: Path) -> None:
    from peft import PeftModel

    from ragtune.hardware import load_causal_lm, load_tokenizer
    from ragtune.llm.bundled import resolve_model

    base_spec = resolve_model(model.base)
    ident = base_spec[3:] if base_spec.startswith("hf:") else base_spec
    try:
        base = load_causal_lm(ident, dtype="fp32")
        tokenizer = load_tokenizer(model.path if (Path(model.path) / "tokenizer_config.json").exists() else ident)
        merged = PeftModel.from_pretrained(base, model.path).merge_and_unload()
    except (OSError, ValueError) as exc:
        raise ModelError(f"{model.spec}: cannot load {model.base} with adapter {model.path}: {exc}") from exc
    merged.save_pretrained(target)
    tokenizer.save_pretrained(target)
    if getattr(base, "generation_config", None) is not None:
        base.generation_config.save_pretrained(target)
