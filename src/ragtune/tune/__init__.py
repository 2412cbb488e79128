"""Fine-tuning: training data (chat JSONL, checks, synthesis, RAFT, splits), training, tracking, registry, sweeps."""

from ragtune.tune.check import DataReport, Problem, check_dataset
from ragtune.tune.dataset import ChatExample, read_chat_jsonl, write_chat_jsonl
from ragtune.tune.raft import build_raft, raft_example
from ragtune.tune.split import Split, split_examples, split_file
from ragtune.tune.synth import KBChunk, QAPair, Synthesis, kb_chunks, pair_examples, synthesize
from ragtune.tune.config import TrainConfig, load_train_config
from ragtune.tune.registry import ModelRegistry, RegisteredModel
from ragtune.tune.sweep import SweepResult, sweep
from ragtune.tune.train import TrainResult, train
