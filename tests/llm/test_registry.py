"""Generators by name: parsed model specs, the registry a plugin extends, and ``[llm]`` endpoint settings."""

from __future__ import annotations

from typing import Any

import pytest

from ragtune.config import LLMSettings
from ragtune.errors import ConfigError
from ragtune.llm.base import Generation, GenerationOptions, Message
from ragtune.llm.registry import (
    GeneratorBackend,
    GeneratorContext,
    backend_settings,
    base_model,
    generator_schemes,
    load_generator,
    local_tokenizer,
    register_generator,
    unregister_generator,
)
from ragtune.llm.spec import ModelSpec


@pytest.mark.parametrize(
    ("text", "scheme", "name"),
    [
        ("extractive", "extractive", ""),
        ("hf:./models/tiny", "hf", "./models/tiny"),
        ("hf:HuggingFaceTB/SmolLM2-135M", "hf", "HuggingFaceTB/SmolLM2-135M"),
        ("openai:gpt-4o-mini", "openai", "gpt-4o-mini"),
        ("ft:support-v2", "ft", "support-v2"),
        ("smollm2", "bundled", "smollm2"),
        ("hf:smollm2", "bundled", "smollm2"),
        ("bundled:smollm2", "bundled", "smollm2"),
        ("ollama:llama3:8b", "ollama", "llama3:8b"),
        ("gpt2", "", "gpt2"),
    ],
)
def test_model_spec_parse(text: str, scheme: str, name: str) -> None:
    spec = ModelSpec.parse(text)
    assert (spec.scheme, spec.name) == (scheme, name)
    assert ModelSpec.parse(str(spec)) == spec  # the string form parses back to the same spec


def test_model_spec_options_are_frozen_and_merged() -> None:
    spec = ModelSpec.parse("openai:m", timeout_s=5)
    assert spec.settings == {"timeout_s": 5}
    assert spec.with_options(base_url="http://x").settings == {"base_url": "http://x", "timeout_s": 5}
    with pytest.raises(AttributeError):
        spec.scheme = "hf"  # type: ignore[misc]


class Echo:
    """A deterministic generator registered the way a plugin would register one."""

    def __init__(self, name: str, prefix: str = "") -> None:
        self.name = f"echo:{name}"
        self.prefix = prefix

    def generate(self, messages: list[Message], options: GenerationOptions | None = None, **kw: Any) -> Generation:
        return Generation(text=self.prefix + messages[-1]["content"], tokens_in=1, tokens_out=1, seconds=0.0)


def _load_echo(spec: ModelSpec, context: GeneratorContext) -> Any:
    return Echo(spec.name, **context.settings)


def test_a_registered_backend_loads_by_scheme_and_is_cached() -> None:
    register_generator("echo", GeneratorBackend(_load_echo, settings=("prefix",)))
    try:
        assert "echo" in generator_schemes()
        gen = load_generator("echo:loud", prefix=">> ")
        assert gen.generate([{"role": "user", "content": "hi"}]).text == ">> hi"
        assert load_generator("echo:loud", prefix=">> ") is gen
        assert backend_settings("echo:x", {"prefix": "!", "base_url": "http://x", "dtype": None}) == {"prefix": "!"}
    finally:
        unregister_generator("echo")
    with pytest.raises(ConfigError, match="unknown model spec 'echo:loud'"):
        load_generator("echo:loud")


def test_builtin_backends_say_what_they_read() -> None:
    table = {"base_url": "http://127.0.0.1:9/v1", "api_key_env": "K", "timeout_s": 5, "dtype": "fp32"}
    endpoint = {"base_url": "http://127.0.0.1:9/v1", "api_key_env": "K", "timeout_s": 5}
    assert backend_settings("openai:m", table) == endpoint
    assert backend_settings("hf:./x", table) == {"dtype": "fp32"}
    assert backend_settings("extractive", table) == {}
    assert local_tokenizer("openai:m") is None and local_tokenizer("extractive") is None
    assert local_tokenizer("hf:./tok") == "./tok"
    with pytest.raises(ConfigError, match="needs base_url"):
        load_generator("openai:m")


def test_ft_comes_from_the_training_package_entry_point(tmp_path: Any) -> None:
    """``ft:`` is not built into the llm package; ragtune.tune registers it (pyproject entry point)."""
    assert "ft" in generator_schemes()
    assert local_tokenizer("ft:anything") is None
    assert base_model("ft:missing", tmp_path) == "ft:missing"  # unknown names fail later, where loaded
    assert base_model("hf:./x", tmp_path) == "hf:./x"
    with pytest.raises(ConfigError, match="knowledge base"):
        load_generator("ft:anything")


def test_llm_settings_typed_endpoint_and_strategy_defaults() -> None:
    config = {"llm": {"model": "openai:m", "base_url": "http://h/v1", "timeout_s": 30, "max_new_tokens": 64}}
    llm = LLMSettings.from_config(config)
    assert (llm.model, llm.base_url, llm.timeout_s, llm.api_key_env) == ("openai:m", "http://h/v1", 30, None)
    assert llm.endpoint() == {"base_url": "http://h/v1", "timeout_s": 30}
    assert llm.strategy_defaults() == {"base_url": "http://h/v1", "timeout_s": 30, "max_new_tokens": 64}
    assert LLMSettings.from_config({}).endpoint() == {}
    with pytest.raises(ConfigError, match="timeout_s"):
        LLMSettings.from_config({"llm": {"timeout_s": "soon"}})
