"""``hf:PATH_OR_HUB_ID``: any Hugging Face causal LM (transformers), with an optional PEFT LoRA adapter.

Loading. ``AutoTokenizer`` + ``AutoModelForCausalLM`` from a local directory or a hub id (with
``HF_HUB_OFFLINE=1`` only the local cache is used). A missing or unreadable model raises
:class:`~ragtune.errors.ModelError` naming the path and the reason. ``adapter=PATH`` wraps the model in
``peft.PeftModel.from_pretrained`` (not merged, so the base weights stay exactly as loaded).

Placement and precision. CUDA when available (bf16 where the GPU supports it, else fp16); otherwise CPU in
bf16 only when the CPU runs bf16 natively (AMX / AVX-512 BF16, see :func:`ragtune.hardware.cpu_has_bf16`),
else fp32, because emulated bf16 on CPU is slower than fp32. ``device=`` / ``dtype=`` override both. Measured with
the bundled SmolLM2-135M on a 2-core AMX CPU (benchmarks/generation_speed.py): bf16 answers RAG prompts ~1.9x
faster than fp32 in batches (prefill is compute-bound) and closed-book ones ~1.2x; one answer at a time decodes
at about the same speed. bf16 rounding depends on a row's padding, so batched greedy text can differ from
one-at-a-time text in bf16; in fp32 it is identical (tested).

Prompt. The tokenizer's chat template (``add_generation_prompt=True``). A tokenizer without one (a base model)
gets :data:`FALLBACK_CHAT_TEMPLATE`: ``System: …`` / ``User: …`` / ``Assistant: …`` lines, preceded by BOS
when the tokenizer has one, ending in ``Assistant:`` for the model to continue.

Decoding. Greedy unless ``temperature`` > 0; sampling uses ``temperature`` and ``top_p`` only (the model's
own ``top_k`` default is switched off, as in the OpenAI API). ``seed`` seeds torch before generating.
``max_new_tokens`` is clamped to what fits in the context window.

Stop sequences are checked on the decoded text after every token by a ``StoppingCriteria``, so generation
ends on the token that completes one; the text is cut with :func:`~ragtune.llm.base.apply_stop`.

Token counts are exact: ``tokens_in`` is the length of the chat-templated prompt ids; ``tokens_out`` is the
number of generated ids up to and including the stopping point: an EOS token the model emitted counts (it
was generated), and for a stop sequence the count runs to the first token whose decoded text completes it,
even when the stop sequence ends in the middle of that token and the rest of the token's text is cut away.
``finish_reason`` is ``"length"`` when ``max_new_tokens`` ran out before EOS or a stop sequence, else
``"stop"``.

Streaming. ``stream`` runs ``generate`` in a thread that feeds the new token ids to a queue; the caller's side
decodes them and yields only text that is final: it holds back a tail that could be the start of a stop
sequence and an incomplete UTF-8 character. For tokenizers whose decoding is prefix-stable (byte-level BPE,
SentencePiece) the pieces concatenate to exactly the final :class:`Generation`'s text, which comes last with
the same counts as ``generate``. Closing the iterator early stops the generation at the next token.

Generation is serialized by a lock: one ``HFGenerator`` can be shared between threads.
"""

from __future__ import annotations

import copy
import dataclasses
import queue
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers.generation import (
    BaseStreamer,
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
)

from ragtune.errors import ConfigError, ModelError
from ragtune.hardware import auto_precision, choose_device, load_causal_lm, load_tokenizer
from ragtune.llm.base import Generation, GenerationOptions, Message, apply_stop

PREFIX = "hf:"

FALLBACK_CHAT_TEMPLATE = (
    "{% if bos_token %}{{ bos_token }}{% endif %}"
    "{% for message in messages %}"
    "{{ message['role'] | capitalize }}: {{ message['content'] }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)

_OPTION_FIELDS = frozenset(f.name for f in dataclasses.fields(GenerationOptions))
_CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "n_ctx", "max_sequence_length")
_DTYPES = ("auto", "fp32", "bf16", "fp16")
_END = object()


class HFGenerator:
    """A transformers causal LM as a :class:`~ragtune.llm.base.Generator`; ``name`` is ``hf:PATH_OR_HUB_ID``."""

    def __init__(
        self,
        model: str | Path,
        *,
        adapter: str | Path | None = None,
        device: str | None = None,
        dtype: str = "auto",
        batch_size: int = 8,
    ) -> None:
        spec = str(model)
        self.model_id = spec[len(PREFIX) :] if spec.startswith(PREFIX) else spec
        self.name = PREFIX + self.model_id
        self.adapter = str(adapter) if adapter is not None else None
        if dtype not in _DTYPES:
            raise ConfigError(f"dtype {dtype!r} is not one of {', '.join(_DTYPES)}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be ≥ 1, got {batch_size}")
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self.tokenizer, self.model, self.device, self.dtype = _load(self.model_id, self.adapter, device, dtype)
        self.context_window = _context_window(self.model.config, self.tokenizer)
        self._eos_ids = _eos_ids(self.model, self.tokenizer)

    def __repr__(self) -> str:
        adapter = f", adapter={self.adapter!r}" if self.adapter else ""
        return f"HFGenerator({self.model_id!r}{adapter}, device={self.device!r}, dtype={self.dtype!r})"

    # --- the Generator protocol -------------------------------------------------------------------------

    def generate(self, messages: list[Message], options: GenerationOptions | None = None, **kw: Any) -> Generation:
        """Generate one reply to ``messages``.

        Keyword options named like :class:`GenerationOptions` fields override ``options``; others (``context=``
        and the like) are ignored, as by the other LLM generators: an LLM reads the prompt.
        """
        opts = _options(options, kw)
        return self._run([self.prompt_ids(messages)], opts)[0]

    def stream(
        self, messages: list[Message], options: GenerationOptions | None = None, **kw: Any
    ) -> Iterator[str | Generation]:
        """Yield text pieces as they are generated, then one final :class:`Generation`."""
        opts = _options(options, kw)
        prompt = self.prompt_ids(messages)
        pieces: queue.Queue[Any] = queue.Queue()
        cancel = threading.Event()
        result: dict[str, Any] = {}

        def work() -> None:
            try:
                result["generation"] = self._run([prompt], opts, streamer=_TokenQueue(pieces), cancel=cancel)[0]
            except BaseException as exc:  # handed to the consumer's thread
                result["error"] = exc
            finally:
                pieces.put(_END)

        worker = threading.Thread(target=work, name="ragtune-hf-stream", daemon=True)
        worker.start()
        ids: list[int] = []
        emitted = ""
        stopped = False
        try:
            while (item := pieces.get()) is not _END:
                if stopped:
                    continue
                ids.extend(item)
                text = self._decode(ids)
                cut, stopped = apply_stop(text, opts.stop)
                end = len(cut) if stopped else _final_length(text, opts.stop)
                if end > len(emitted):
                    piece = text[len(emitted) : end]
                    emitted += piece
                    yield piece
            worker.join()
            if "error" in result:
                raise result["error"]
            generation: Generation = result["generation"]
            if len(generation.text) > len(emitted):
                yield generation.text[len(emitted) :]
            yield generation
        finally:
            cancel.set()  # a consumer that stops early ends the generation at the next token

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` on its own (no special tokens added)."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    # --- helpers ----------------------------------------------------------------------------------------

    def prompt_ids(self, messages: list[Message]) -> list[int]:
        """The chat-templated prompt, as the token ids the model sees (``tokens_in`` is their number)."""
        _check_messages(messages)
        template = None if getattr(self.tokenizer, "chat_template", None) else FALLBACK_CHAT_TEMPLATE
        try:
            encoded = self.tokenizer.apply_chat_template(
                messages, chat_template=template, add_generation_prompt=True, tokenize=True, return_dict=True
            )
        except Exception as exc:  # jinja errors, templates that reject a role order, ...
            raise ModelError(f"{self.name}: the chat template failed: {_reason(exc)}") from None
        return list(encoded["input_ids"])

    def _decode(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=True))

    def generate_batch(
        self, prompts: Sequence[list[Message]], options: GenerationOptions | None = None, **kw: Any
    ) -> list[Generation]:
        """One reply per chat in ``prompts``, in order, generated ``batch_size`` at a time.

        Prompts are grouped by length (less padding), left-padded, and decoded together with the KV cache; a row
        that reaches EOS or a stop sequence stops while the others go on. Greedy text equals :meth:`generate`'s
        for each prompt (tested). ``seconds`` of each Generation is its share of the batch's wall time (the
        compute one answer cost); ``extra["batch_seconds"]`` is the whole batch's, what every caller waited.
        """
        opts = _options(options, kw)
        ids = [self.prompt_ids(list(m)) for m in prompts]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out: list[Generation | None] = [None] * len(ids)
        for start in range(0, len(order), self.batch_size):
            group = order[start : start + self.batch_size]
            for i, generation in zip(group, self._run([ids[i] for i in group], opts), strict=True):
                out[i] = generation
        return [g for g in out if g is not None]

    def _run(
        self,
        prompts: list[list[int]],
        opts: GenerationOptions,
        streamer: Any = None,
        cancel: threading.Event | None = None,
    ) -> list[Generation]:
        longest = max(len(p) for p in prompts)
        room = self.context_window - longest
        if room < 1:
            raise ModelError(
                f"{self.name}: the prompt has {longest} tokens; the context window is {self.context_window}"
            )
        max_new = min(opts.max_new_tokens, room)
        config = _generation_config(self.model, opts, max_new, self._eos_ids, self.tokenizer)
        pad = int(config.pad_token_id)
        criteria: list[Any] = [_StopOnText(self._decode, longest, opts.stop, cancel)]
        processors = _answer_processors(longest, opts)
        input_ids = torch.tensor(
            [[pad] * (longest - len(p)) + p for p in prompts], dtype=torch.long, device=self.device
        )
        mask = torch.tensor(
            [[0] * (longest - len(p)) + [1] * len(p) for p in prompts], dtype=torch.long, device=self.device
        )
        with self._lock:
            if opts.seed is not None:
                torch.manual_seed(opts.seed)
            started = time.perf_counter()
            try:
                with torch.inference_mode():
                    output = self.model.generate(
                        input_ids=input_ids,
                        attention_mask=mask,
                        generation_config=config,
                        stopping_criteria=StoppingCriteriaList(criteria),
                        logits_processor=LogitsProcessorList(processors),
                        streamer=streamer,
                    )
            except (RuntimeError, ValueError) as exc:  # out of memory, bad settings for this model, ...
                raise ModelError(f"{self.name}: generation failed: {_reason(exc)}") from None
            seconds = time.perf_counter() - started
        n = len(prompts)
        extra = {"batch_size": n, "batch_seconds": round(seconds, 4)} if n > 1 else {}
        return [
            self._finish(self._answer_ids(row, longest, pad), len(p), opts, max_new, seconds / n, extra)
            for row, p in zip(output.tolist(), prompts, strict=True)
        ]

    def _answer_ids(self, row: list[int], prompt_len: int, pad: int) -> list[int]:
        """The generated ids of one row: up to and including its first EOS, without the padding that follows."""
        ids = row[prompt_len:]
        for i, token in enumerate(ids):
            if token in self._eos_ids:
                return ids[: i + 1]
        while ids and ids[-1] == pad:  # a row stopped by a stop sequence is padded while the others finish
            ids.pop()
        return ids

    def _finish(
        self,
        ids: list[int],
        tokens_in: int,
        opts: GenerationOptions,
        max_new: int,
        seconds: float,
        batch: dict[str, Any] | None = None,
    ) -> Generation:
        text, stopped = apply_stop(self._decode(ids), opts.stop)
        if stopped:
            tokens_out = self._tokens_to_stop(ids, opts.stop)
            finish = "stop"
        else:
            tokens_out = len(ids)
            ended_by_eos = bool(ids) and ids[-1] in self._eos_ids
            finish = "length" if tokens_out >= max_new and not ended_by_eos else "stop"
        extra: dict[str, Any] = {"device": self.device, "dtype": self.dtype, **(batch or {})}
        if self.adapter:
            extra["adapter"] = self.adapter
        return Generation(
            text=text,
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            seconds=seconds,
            finish_reason=finish,
            model=self.name,
            extra=extra,
        )

    def _tokens_to_stop(self, ids: list[int], stop: Sequence[str]) -> int:
        """The fewest leading ``ids`` whose text contains a stop sequence (binary search; containment only grows)."""
        lo, hi = 1, len(ids)
        while lo < hi:
            mid = (lo + hi) // 2
            if apply_stop(self._decode(ids[:mid]), stop)[1]:
                hi = mid
            else:
                lo = mid + 1
        return hi


# --- loading -------------------------------------------------------------------------------------------

# One model load at a time per process: transformers builds a model's modules under a process-global "meta"
# default device before filling in the weights, so two threads loading at once (a server asked base, rag and
# ft side by side) can each see the other's meta tensors ("Cannot copy out of meta tensor").
_LOADING = threading.Lock()


def _load(model_id: str, adapter: str | None, device: str | None, dtype: str) -> tuple[Any, Any, str, str]:
    if _looks_like_path(model_id):
        local = Path(model_id).expanduser()
        if not local.is_dir():
            raise ModelError(f"cannot load model {model_id!r}: no such directory")
        if not (local / "config.json").is_file():
            raise ModelError(f"cannot load model {model_id!r}: no config.json (not a Hugging Face model directory)")
    device = choose_device(device)
    if dtype == "auto":
        dtype = auto_precision(device)
    path = str(Path(model_id).expanduser()) if _looks_like_path(model_id) else model_id
    with _LOADING:
        try:
            tokenizer = load_tokenizer(path)
            model: Any = load_causal_lm(path, dtype=dtype)
        except (OSError, ValueError, KeyError, ImportError, RuntimeError) as exc:
            raise ModelError(f"cannot load model {model_id!r}: {_reason(exc)}") from None
        if adapter is not None:
            model = _with_adapter(model, adapter)
        try:
            model.to(device)
        except (RuntimeError, AssertionError) as exc:  # no such device, out of memory
            raise ModelError(f"cannot put model {model_id!r} on {device}: {_reason(exc)}") from None
        model.eval()
    return tokenizer, model, device, dtype


def _with_adapter(model: Any, adapter: str) -> Any:
    try:
        from peft import PeftModel
    except ImportError:
        raise ModelError(f"adapter {adapter!r} needs the 'peft' package: pip install peft") from None
    if _looks_like_path(adapter) and not Path(adapter).expanduser().is_dir():
        raise ModelError(f"cannot load adapter {adapter!r}: no such directory")
    try:
        with warnings.catch_warnings():
            # PEFT asks transformers 5 for `is_gradient_checkpointing`, which transformers deprecates; the notice
            # is about PEFT's internals, not anything the user chose, and would print on every `ragtune ask`.
            warnings.filterwarnings(
                "ignore", message=r".*`is_gradient_checkpointing` is deprecated", category=FutureWarning
            )
            return PeftModel.from_pretrained(
                model, str(Path(adapter).expanduser()) if _looks_like_path(adapter) else adapter
            )
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelError(f"cannot load adapter {adapter!r}: {_reason(exc)}") from None


def _looks_like_path(name: str) -> bool:
    """A filesystem path rather than a hub id (``owner/name``): absolute, relative with ./, ~, or existing."""
    return name.startswith(("/", "./", "../", "~", ".\\")) or Path(name).exists() or name.count("/") > 1


def _reason(exc: BaseException) -> str:
    """The first line of an exception's message: enough to act on, without the library's traceback."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    return f"{lines[0]} {lines[1]}" if lines[0].endswith(":") and len(lines) > 1 else lines[0]


def _context_window(config: Any, tokenizer: Any) -> int:
    for cfg in (config, getattr(config, "text_config", None)):
        for key in _CONTEXT_KEYS:
            value = getattr(cfg, key, None) if cfg is not None else None
            if isinstance(value, int) and value > 0:
                return value
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < 10_000_000 else 2048


def _eos_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    ids: set[int] = set()
    for value in (getattr(model.generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list | tuple):
            ids.update(v for v in value if isinstance(v, int))
    return frozenset(ids)


# --- decoding ------------------------------------------------------------------------------------------


def _options(options: GenerationOptions | None, kw: dict[str, Any]) -> GenerationOptions:
    opts = dataclasses.replace(options) if options is not None else GenerationOptions()
    for key, value in kw.items():
        if key in _OPTION_FIELDS:
            setattr(opts, key, value)
    if isinstance(opts.stop, str):
        opts.stop = [opts.stop]
    opts.stop = [s for s in opts.stop if s]
    if opts.max_new_tokens < 1:
        raise ConfigError(f"max_new_tokens must be ≥ 1, got {opts.max_new_tokens}")
    if opts.temperature < 0:
        raise ConfigError(f"temperature must be ≥ 0, got {opts.temperature}")
    if not 0 < opts.top_p <= 1:
        raise ConfigError(f"top_p must be in (0, 1], got {opts.top_p}")
    if opts.repetition_penalty <= 0:
        raise ConfigError(f"repetition_penalty must be > 0, got {opts.repetition_penalty}")
    if opts.no_repeat_ngram_size < 0:
        raise ConfigError(f"no_repeat_ngram_size must be ≥ 0, got {opts.no_repeat_ngram_size}")
    return opts


def _check_messages(messages: list[Message]) -> None:
    if not messages:
        raise ConfigError("no messages to answer")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise ConfigError(f"message {i} must be a dict with string 'role' and 'content'")


def _generation_config(model: Any, opts: GenerationOptions, max_new: int, eos: frozenset[int], tokenizer: Any) -> Any:
    """The model's generation config with our options on top (sampling knobs we do not expose are reset)."""
    config = copy.deepcopy(model.generation_config)
    config.max_new_tokens = max_new
    config.max_length = None
    config.min_new_tokens = None
    config.min_length = 0
    config.num_beams = 1
    config.num_return_sequences = 1
    config.top_k = None
    # Repetition control is ours (_AnswerRepetition): transformers' versions would also penalise the prompt.
    config.repetition_penalty = 1.0
    config.no_repeat_ngram_size = 0
    if opts.temperature > 0:
        config.do_sample, config.temperature, config.top_p = True, opts.temperature, opts.top_p
    else:
        config.do_sample, config.temperature, config.top_p = False, None, None
    if eos:
        config.eos_token_id = sorted(eos)
    if config.pad_token_id is None:
        config.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(eos, default=0)
    return config


def _final_length(text: str, stop: Sequence[str]) -> int:
    """How much of ``text`` is final: all but a tail that may start a stop sequence or end mid-character."""
    end = len(text)
    for s in stop:
        for n in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:n]):
                end = min(end, len(text) - n)
                break
    while end > 0 and text[end - 1] == "\ufffd":  # an incomplete UTF-8 sequence decodes to U+FFFD until complete
        end -= 1
    return end


class _StopOnText(StoppingCriteria):
    """Ends a row when its decoded new text contains a stop sequence; ends every row when ``cancel`` is set."""

    def __init__(self, decode: Any, prompt_len: int, stop: Sequence[str], cancel: threading.Event | None) -> None:
        self.decode = decode
        self.prompt_len = prompt_len
        self.stop = list(stop)
        self.cancel = cancel
        # Only the newest tokens can complete a stop sequence; 4 bytes per character covers byte-level tokens.
        self.window = 4 * max((len(s) for s in self.stop), default=0) + 8

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        rows = input_ids.shape[0]
        if self.cancel is not None and self.cancel.is_set():
            return torch.ones((rows,), dtype=torch.bool, device=input_ids.device)
        done = [False] * rows
        if self.stop:
            start = max(self.prompt_len, input_ids.shape[1] - self.window)
            for r, row in enumerate(input_ids[:, start:].tolist()):
                done[r] = apply_stop(self.decode(row), self.stop)[1]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class _AnswerRepetition(LogitsProcessor):
    """Repetition penalty and no-repeat n-grams over the tokens generated so far, not the prompt's.

    transformers' own processors count the prompt too, which forbids a RAG answer from quoting its sources.
    """

    def __init__(self, prompt_len: int, penalty: float, ngram: int) -> None:
        self.prompt_len = prompt_len
        self.penalty = penalty
        self.ngram = ngram

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        answer = input_ids[:, self.prompt_len :]
        if answer.shape[1] == 0:
            return scores
        if self.penalty != 1.0:
            picked = torch.gather(scores, 1, answer)
            picked = torch.where(picked > 0, picked / self.penalty, picked * self.penalty)
            scores = scores.scatter(1, answer, picked)
        n = self.ngram
        if n > 0 and answer.shape[1] >= n - 1:
            for r, row in enumerate(answer.tolist()):
                prefix = tuple(row[len(row) - n + 1 :]) if n > 1 else ()
                banned = {row[i + n - 1] for i in range(len(row) - n + 1) if tuple(row[i : i + n - 1]) == prefix}
                if banned:
                    scores[r, sorted(banned)] = -float("inf")
        return scores


def _answer_processors(prompt_len: int, opts: GenerationOptions) -> list[Any]:
    if opts.repetition_penalty == 1.0 and opts.no_repeat_ngram_size <= 0:
        return []
    return [_AnswerRepetition(prompt_len, opts.repetition_penalty, opts.no_repeat_ngram_size)]


class _TokenQueue(BaseStreamer):
    """A generate() streamer that forwards each step's new token ids to a queue (the prompt is skipped)."""

    def __init__(self, out: queue.Queue[Any]) -> None:
        self.out = out
        self.prompt_seen = False

    def put(self, value: Any) -> None:
        if not self.prompt_seen:  # generate() first pushes the prompt
            self.prompt_seen = True
            return
        self.out.put(value.reshape(-1).tolist())

    def end(self) -> None:
        pass
