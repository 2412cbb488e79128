"""The ``hf:`` generator and tiny models: real transformers generation on a model built in seconds."""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from ragtune.cli.models import models
from ragtune.errors import ConfigError, ModelError
from ragtune.llm.base import Generation, GenerationOptions, Generator
from ragtune.llm.hf import FALLBACK_CHAT_TEMPLATE, HFGenerator
from ragtune.llm.tiny import build_tiny_model, read_manifest

MESSAGES = [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": "How do I restore a deleted file?"},
]


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny models gain nothing from intra-op threads and lose several-fold on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 60 steps on the built-in text: enough for varied, word-like greedy output (random weights repeat "\n").
    # Not the session's tiny_model (trained on the help-center docs): greedy decoding of these messages with that
    # one gives only newlines, which the stop-sequence and streaming tests cannot use.
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny", train_steps=60, seed=0)


@pytest.fixture(scope="module")
def gen(tiny_path: Path) -> HFGenerator:
    return HFGenerator(f"hf:{tiny_path}")


def reference_ids(path: Path, max_new_tokens: int) -> tuple[list[int], list[int]]:
    """Prompt ids and greedy new ids straight from transformers, to recount against."""
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    prompt = tok.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=True, return_dict=False)
    out = model.generate(torch.tensor([prompt]), max_new_tokens=max_new_tokens, do_sample=False)
    return list(prompt), out[0, len(prompt) :].tolist()


def test_generates_through_the_spec(gen: HFGenerator, tiny_path: Path) -> None:
    assert isinstance(gen, Generator)
    assert gen.name == f"hf:{tiny_path}"
    assert gen.context_window == 512
    assert gen.count_tokens("restore a deleted file") > 0
    result = gen.generate(MESSAGES, GenerationOptions(max_new_tokens=12))
    assert result.text.strip()
    assert result.model == gen.name
    assert result.seconds > 0


def test_exact_token_counts_and_length_limit(gen: HFGenerator, tiny_path: Path) -> None:
    prompt, new_ids = reference_ids(tiny_path, 10)
    result = gen.generate(MESSAGES, max_new_tokens=10)
    assert result.tokens_in == len(prompt)
    assert result.tokens_out == len(new_ids) == 10
    assert result.finish_reason == "length"
    assert result.text == gen.tokenizer.decode(new_ids, skip_special_tokens=True)


def test_stop_sequence_cuts_text_and_ends_generation(gen: HFGenerator, tiny_path: Path) -> None:
    first = gen.generate(MESSAGES, max_new_tokens=24)
    words = first.text.split()
    assert len(words) >= 4, first.text
    stop = words[3]  # deterministic under greedy decoding
    result = gen.generate(MESSAGES, max_new_tokens=24, stop=[stop])
    assert result.text == first.text[: first.text.find(stop)]
    assert result.finish_reason == "stop"
    # Recount: the fewest generated ids whose text contains the stop sequence.
    _, new_ids = reference_ids(tiny_path, 24)
    k = next(
        n for n in range(1, len(new_ids) + 1) if stop in gen.tokenizer.decode(new_ids[:n], skip_special_tokens=True)
    )
    assert result.tokens_out == k < first.tokens_out


def test_stream_matches_generate(gen: HFGenerator) -> None:
    for opts in (GenerationOptions(max_new_tokens=16), GenerationOptions(max_new_tokens=16, stop=[" do I"])):
        expected = gen.generate(MESSAGES, opts)
        items = list(gen.stream(MESSAGES, opts))
        *pieces, final = items
        assert isinstance(final, Generation)
        assert all(isinstance(p, str) and p for p in pieces)
        assert len(pieces) > 1
        assert "".join(pieces) == expected.text == final.text  # type: ignore[arg-type]
        assert (final.tokens_in, final.tokens_out, final.finish_reason) == (
            expected.tokens_in,
            expected.tokens_out,
            expected.finish_reason,
        )


def test_abandoned_stream_releases_the_model(gen: HFGenerator) -> None:
    stream = gen.stream(MESSAGES, max_new_tokens=200)
    assert isinstance(next(stream), str)
    stream.close()  # cancels the generation thread; the lock must come free
    assert gen.generate(MESSAGES, max_new_tokens=3).tokens_out == 3


def test_concurrent_calls_give_sequential_results(gen: HFGenerator) -> None:
    expected = gen.generate(MESSAGES, max_new_tokens=8).text
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(gen.generate(MESSAGES, max_new_tokens=8).text)) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 3


def test_models_loaded_by_several_threads_at_once(gen: HFGenerator, tiny_path: Path) -> None:
    """A server asked base, rag and ft side by side loads the same model from several threads at once; transformers
    builds modules under a process-global meta device, so unserialized loads failed with "Cannot copy out of meta
    tensor" (found by the web UI's side-by-side test)."""
    expected = gen.generate(MESSAGES, max_new_tokens=8).text
    results: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def load_and_answer() -> None:
        try:
            start.wait()
            results.append(HFGenerator(f"hf:{tiny_path}").generate(MESSAGES, max_new_tokens=8).text)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=load_and_answer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert results == [expected] * 4


def test_sampling_is_seeded(gen: HFGenerator) -> None:
    a = gen.generate(MESSAGES, max_new_tokens=12, temperature=1.5, seed=7)
    b = gen.generate(MESSAGES, max_new_tokens=12, temperature=1.5, seed=7)
    assert a.text == b.text


def test_option_keywords(gen: HFGenerator) -> None:
    # A keyword named like an option overrides it; others (the RAG context) are ignored.
    assert gen.generate(MESSAGES, GenerationOptions(max_new_tokens=9), max_new_tokens=2, context=None).tokens_out == 2
    with pytest.raises(ConfigError, match="max_new_tokens"):
        gen.generate(MESSAGES, max_new_tokens=0)


def test_tokenizer_without_chat_template_uses_fallback(tiny_path: Path) -> None:
    plain = HFGenerator(tiny_path)
    plain.tokenizer.chat_template = None
    ids = plain.prompt_ids(MESSAGES)
    text = plain.tokenizer.decode(ids)
    assert "System: Answer briefly.\nUser: How do I restore" in text
    assert text.endswith("Assistant:")
    assert "Assistant:" in FALLBACK_CHAT_TEMPLATE
    assert plain.generate(MESSAGES, max_new_tokens=4).tokens_out == 4


def _lora_adapter(base: Path, out: Path, random_b: bool) -> Path:
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(1)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base), LoraConfig(target_modules=["q_proj", "v_proj"], r=4)
    )
    if random_b:
        with torch.no_grad():
            for name, param in model.named_parameters():
                if "lora_B" in name:
                    param.normal_(0.0, 0.5)
    model.save_pretrained(out)
    return out


def _first_logits(g: HFGenerator) -> torch.Tensor:
    with torch.no_grad():
        return g.model(torch.tensor([g.prompt_ids(MESSAGES)])).logits[0, -1]


def test_lora_adapter_changes_output_only_when_nonzero(gen: HFGenerator, tiny_path: Path, tmp_path: Path) -> None:
    zero = HFGenerator(f"hf:{tiny_path}", adapter=_lora_adapter(tiny_path, tmp_path / "zero", random_b=False))
    trained = HFGenerator(f"hf:{tiny_path}", adapter=_lora_adapter(tiny_path, tmp_path / "rand", random_b=True))
    base_logits = _first_logits(gen)
    assert torch.allclose(_first_logits(zero), base_logits)
    assert not torch.allclose(_first_logits(trained), base_logits, atol=1e-3)
    expected = gen.generate(MESSAGES, max_new_tokens=12).text
    assert zero.generate(MESSAGES, max_new_tokens=12).text == expected
    changed = trained.generate(MESSAGES, max_new_tokens=12)
    assert changed.text != expected
    assert changed.extra["adapter"] == str(tmp_path / "rand")


def test_loading_an_adapter_prints_no_deprecation_notice(tiny_path: Path, tmp_path: Path) -> None:
    adapter = _lora_adapter(tiny_path, tmp_path / "zero", random_b=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        HFGenerator(f"hf:{tiny_path}", adapter=adapter)
    assert not [w for w in caught if "is_gradient_checkpointing" in str(w.message)]


def test_missing_model_or_adapter_is_a_model_error(tmp_path: Path, tiny_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelError, match="no-such-model"):
        HFGenerator(f"hf:{missing}")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelError, match="empty"):
        HFGenerator(empty)
    with pytest.raises(ModelError, match="no-such-adapter"):
        HFGenerator(tiny_path, adapter=tmp_path / "no-such-adapter")


def test_build_is_deterministic_and_loads_as_a_plain_checkpoint(tmp_path: Path) -> None:
    a = build_tiny_model(tmp_path / "a", train_steps=3, seed=5)
    b = build_tiny_model(tmp_path / "b", train_steps=3, seed=5)
    c = build_tiny_model(tmp_path / "c", train_steps=3, seed=6)
    wa, wb, wc = (load_file(p / "model.safetensors") for p in (a, b, c))
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)
    assert (a / "tokenizer.json").read_bytes() == (b / "tokenizer.json").read_bytes()

    model = AutoModelForCausalLM.from_pretrained(a)
    tok = AutoTokenizer.from_pretrained(a)
    assert model.config.model_type == "llama"
    assert None not in (tok.bos_token_id, tok.eos_token_id, tok.pad_token_id)
    assert "<|assistant|>" in tok.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=False)
    assert tok.decode(tok("Restore a file — café, naïve.", add_special_tokens=False)["input_ids"]) == (
        "Restore a file — café, naïve."
    )
    assert json.loads((a / "generation_config.json").read_text())["eos_token_id"] == tok.eos_token_id
    assert read_manifest(a)["train_steps"] == 3


def test_build_refuses_to_overwrite_an_unrelated_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="refusing"):
        build_tiny_model(tmp_path)


def test_wordpiece_vocab_and_cli(tmp_path: Path) -> None:
    result = CliRunner().invoke(models, ["tiny", str(tmp_path / "wp"), "--vocab", "wordpiece", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["vocab"] == "wordpiece" and info["size_bytes"] > 0
    g = HFGenerator(info["spec"])
    assert g.generate(MESSAGES, max_new_tokens=3).tokens_in == len(g.prompt_ids(MESSAGES))
