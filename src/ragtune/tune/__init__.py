"""Fine-tuning: training data (chat JSONL, checks, synthesis, RAFT, splits, retrieval pairs), training, tracking,
registry, sweeps, and retriever (embedding model) tuning."""

from ragtune.tune.data.check import DataReport, Problem, check_dataset
from ragtune.tune.data.dataset import ChatExample, read_chat_jsonl, write_chat_jsonl
from ragtune.tune.data.pairs import PairSet, RetrievalPair, build_pairs
from ragtune.tune.data.raft import build_raft, raft_example
from ragtune.tune.data.split import Split, split_examples, split_file
from ragtune.tune.data.synth import KBChunk, QAPair, Synthesis, kb_chunks, pair_examples, synthesize
from ragtune.tune.registry import ModelRegistry, RegisteredModel
from ragtune.tune.retriever import RetrieverConfig, RetrieverResult, train_retriever
from ragtune.tune.training.config import TrainConfig, load_train_config
from ragtune.tune.training.sweep import SweepResult, sweep
from ragtune.tune.training.train import TrainResult, train

__all__ = [
    "ChatExample",
    "DataReport",
    "KBChunk",
    "ModelRegistry",
    "PairSet",
    "Problem",
    "QAPair",
    "RegisteredModel",
    "RetrievalPair",
    "RetrieverConfig",
    "RetrieverResult",
    "Split",
    "SweepResult",
    "Synthesis",
    "TrainConfig",
    "TrainResult",
    "build_pairs",
    "build_raft",
    "check_dataset",
    "kb_chunks",
    "load_train_config",
    "pair_examples",
    "raft_example",
    "read_chat_jsonl",
    "split_examples",
    "split_file",
    "sweep",
    "synthesize",
    "train",
    "train_retriever",
    "write_chat_jsonl",
]
