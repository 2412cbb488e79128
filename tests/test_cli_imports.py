"""A CLI answers fast: importing it must not load the heavy libraries only some commands need."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "mlflow", "matplotlib", "trl", "peft", "datasets", "onnxruntime",
         "sentence_transformers")  # fmt: skip


def test_importing_the_cli_loads_no_heavy_library() -> None:
    code = f"import sys, ragtune.cli.main; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [], f"`import ragtune.cli.main` loads {', '.join(out)}: import it inside the command that needs it"
