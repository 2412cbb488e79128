"""Learning-curve arithmetic: nested shares, the log fit, and the examples needed to match a reference."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from ragtune.evaluate.run.learning_curve import examples_to_match, fit_log_curve, learning_curve, nested_subsets


def test_subsets_are_nested_and_seeded() -> None:
    data = list(range(200))
    subsets = nested_subsets(data, [0.5, 0.1, 1.0], seed=3)
    assert [len(s) for s in subsets] == [20, 100, 200]
    assert subsets[0] == subsets[1][:20] and subsets[1] == subsets[2][:100]
    assert subsets == nested_subsets(data, [0.1, 0.5, 1.0], seed=3)
    assert subsets != nested_subsets(data, [0.1, 0.5, 1.0], seed=4)
    with pytest.raises(ValueError):
        nested_subsets(data, [0.0, 1.0])


def test_fit_recovers_a_known_log_curve() -> None:
    sizes = [10, 25, 50, 100]
    quality = [0.2 + 0.1 * math.log(n) for n in sizes]
    fit = fit_log_curve(sizes, quality)
    assert fit is not None
    assert fit[0] == pytest.approx(0.2) and fit[1] == pytest.approx(0.1)
    # 0.2 + 0.1 ln n = 0.9  →  n = e^7 ≈ 1097
    assert examples_to_match(fit, 0.9) == math.ceil(math.exp(7.0))


def test_flat_or_falling_curves_never_match() -> None:
    assert examples_to_match(fit_log_curve([10, 100], [0.5, 0.5]), 0.9) is None
    assert examples_to_match(fit_log_curve([10, 100], [0.5, 0.4]), 0.9) is None
    assert fit_log_curve([10, 10], [0.1, 0.2]) is None
    # An absurd extrapolation (past ten million examples) is reported as not reached.
    assert examples_to_match((0.0, 0.01), 0.99) is None


def test_learning_curve_scores_each_share() -> None:
    seen: list[int] = []

    def train_and_score(subset: list[int], share: float) -> tuple[list[float | None], float]:
        seen.append(len(subset))
        q = 0.1 * math.log(len(subset))
        return [q, q, None], 1.5

    out = learning_curve(list(range(80)), train_and_score, shares=(0.25, 1.0), reference=("rag", 0.6))
    assert seen == [20, 80]
    assert [p["examples"] for p in out["points"]] == [20, 80]
    assert out["points"][0]["quality"] == pytest.approx(0.1 * math.log(20))
    assert out["examples_to_match"] == math.ceil(math.exp(6.0))
    assert out["reference"] == {"strategy": "rag", "quality": 0.6}


def test_the_ft_models_own_run_is_reused_only_when_data_and_settings_match(tmp_path: Path) -> None:
    import hashlib
    import json

    from ragtune.evaluate.run.compare import CompareOptions
    from ragtune.evaluate.run.curve_runner import _ft_run_reusable
    from ragtune.tune.registry import ModelRegistry, RegisteredModel
    from ragtune.tune.training.config import TrainConfig

    kb_dir = tmp_path / ".ragtune"
    data = tmp_path / "qa.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}\n')
    config = TrainConfig(num_epochs=2, learning_rate=1e-3)
    run = kb_dir / "runs" / "r1"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"train": config.to_dict()}))
    (run / "run.json").write_text(json.dumps({"status": "finished", "created_at": 100.0, "finished_at": 160.5}))
    sha = hashlib.sha256(data.read_bytes()).hexdigest()
    with ModelRegistry.open(kb_dir) as registry:
        registry.register(RegisteredModel("m", "smollm2", "lora", str(run), data_sha256=sha, run_id="r1"))
    kb = SimpleNamespace(path=kb_dir)
    opts = CompareOptions(eval_path=data, out_dir=tmp_path / "out", ft="m", train_data=data)
    assert _ft_run_reusable(kb, opts, config) == 60.5  # type: ignore[arg-type]
    assert _ft_run_reusable(kb, opts, config.replace(lr=2e-3)) is None  # type: ignore[arg-type]
    data.write_text(data.read_text() * 2)
    assert _ft_run_reusable(kb, opts, config) is None  # type: ignore[arg-type]
    assert _ft_run_reusable(kb, CompareOptions(eval_path=data, out_dir=tmp_path, train_data=data), config) is None  # type: ignore[arg-type]
