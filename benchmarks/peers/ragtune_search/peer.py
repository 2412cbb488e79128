"""ragtune set up for search only: ``[answer] sentence_vectors = false`` (ingest embeds the chunks, not the
extractive answerer's sentences), otherwise exactly ``benchmarks/peers/ragtune/peer.py`` — the like-for-like
setting for peers that only retrieve."""

import runpy
from pathlib import Path

runpy.run_path(
    str(Path(__file__).resolve().parent.parent / "ragtune" / "peer.py"),
    init_globals={"SEARCH_ONLY": True},
    run_name="__main__",
)
