"""Watching folders: re-ingest when files change (polling; portable, no native watcher needed)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

Snapshot = dict[str, tuple[int, int]]


def snapshot(paths: Sequence[Path]) -> Snapshot:
    """path → (mtime_ns, size) of every non-hidden file under ``paths``."""
    out: Snapshot = {}
    for root in paths:
        if root.is_file():
            st = root.stat()
            out[str(root)] = (st.st_mtime_ns, st.st_size)
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                if name.startswith("."):
                    continue
                p = os.path.join(dirpath, name)
                try:
                    st = os.stat(p)
                except OSError:
                    continue  # deleted between listing and stat
                out[p] = (st.st_mtime_ns, st.st_size)
    return out


def watch(
    paths: Sequence[Path],
    on_change: Callable[[list[str]], None],
    *,
    interval: float = 1.0,
    stop: threading.Event | None = None,
    max_changes: int | None = None,
) -> int:
    """Call ``on_change(changed_paths)`` whenever files under ``paths`` change; return changes seen.

    Waits for a file to stop changing for one interval before reporting it (editors write in steps).
    Stops when ``stop`` is set or after ``max_changes`` reports.
    """
    stop = stop or threading.Event()
    seen = snapshot(paths)
    changes = 0
    while not stop.wait(interval):
        now = snapshot(paths)
        if now == seen:
            continue
        if stop.wait(min(interval, 0.5)):
            break
        settled = snapshot(paths)
        if settled != now:
            continue  # still being written; look again next round
        changed = sorted(set(now.items()) ^ set(seen.items()))
        seen = settled
        on_change(sorted({p for p, _ in changed}))
        changes += 1
        if max_changes is not None and changes >= max_changes:
            break
    return changes
