"""The cost model on hand-computed cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragtune.advise.cost import ModelPrice, PriceSheet, load_price_sheet, query_cost, setup_cost
from ragtune.errors import ConfigError

SHEET = PriceSheet(
    hardware_per_hour=0.36,
    retrieval_per_hour=0.18,
    training_per_hour=2.40,
    per_example=0.5,
    models={
        "openai:": ModelPrice(input_per_million=1.0, output_per_million=4.0),
        "openai:gpt-4o-mini": ModelPrice(input_per_million=0.15, output_per_million=0.60),
        "hf:big": ModelPrice(per_hour=3.60, concurrency=4),
    },
)


def test_api_model_pays_per_token() -> None:
    # 2000 in × $0.15/M + 200 out × $0.60/M = 0.0003 + 0.00012; + 0.1 s retrieval at $0.18/h = 0.000005
    cost = query_cost("openai:gpt-4o-mini", 2000, 200, seconds=1.5, retrieval_seconds=0.1, sheet=SHEET)
    assert cost == pytest.approx(0.0003 + 0.00012 + 0.000005)
    # an unlisted OpenAI model takes the "openai:" prefix price
    assert query_cost("openai:other", 1_000_000, 0, 9.0, sheet=SHEET) == pytest.approx(1.0)


def test_self_hosted_model_pays_for_seconds() -> None:
    # $3.60/h = $0.001/s, 2 s, 4 requests at once → $0.0005; tokens are free
    assert query_cost("hf:big", 5000, 500, seconds=2.0, sheet=SHEET) == pytest.approx(0.0005)
    # unlisted → self-hosted on the default hardware: $0.36/h × 10 s = $0.001
    assert query_cost("extractive", 0, 0, seconds=10.0, sheet=SHEET) == pytest.approx(0.001)
    assert query_cost("extractive", 0, 0, seconds=3600.0) == pytest.approx(0.20)  # the documented default


def test_setup_cost() -> None:
    out = setup_cost(1800, examples=100, data_prep_seconds=1800, sheet=SHEET)
    assert out.dollars == pytest.approx(2.40 + 50.0) and out.seconds == 3600 and out.examples == 100
    assert setup_cost(3600).dollars == pytest.approx(0.20)
    with pytest.raises(ValueError):
        setup_cost(-1)


def test_price_sheet_from_config_with_overrides(tmp_path: Path) -> None:
    config = {
        "prices": {
            "hardware_per_hour": 1.0,
            "models": {"openai:gpt-4o-mini": {"input_per_million": 0.15, "output_per_million": 0.6}},
        }
    }
    sheet = load_price_sheet(config, overrides={"training_per_hour": 3, "models": {"hf:x": {"per_hour": 2}}})
    assert sheet.hardware_per_hour == 1.0 and sheet.training_per_hour == 3.0
    assert sheet.price_for("hf:x").per_hour == 2.0 and sheet.price_for("openai:gpt-4o-mini").is_api
    assert sheet.price_for("hf:unknown") == ModelPrice(per_hour=1.0, concurrency=1.0)
    assert sheet.as_dict()["models"]["hf:x"]["per_hour"] == 2.0


def test_price_sheet_from_ragtune_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ragtune.toml").write_text("[prices]\ntraining_per_hour = 2.5\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert load_price_sheet().training_per_hour == 2.5


@pytest.mark.parametrize(
    ("prices", "match"),
    [
        ({"hardware_per_hour": -1}, "non-negative"),
        ({"hardware_per_hour": "cheap"}, "non-negative"),
        ({"concurrency": 0}, "positive"),
        ({"gpu": 1}, "unknown"),
        ({"models": {"hf:x": {"per_hour": 1, "speed": 2}}}, "speed"),
        ({"models": {"hf:x": 3}}, "must be a table"),
    ],
)
def test_bad_prices_are_config_errors(prices: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_price_sheet({"prices": prices})
