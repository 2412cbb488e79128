"""Generators: turn a question and numbered sources into an answer (extractive, hf, openai)."""
