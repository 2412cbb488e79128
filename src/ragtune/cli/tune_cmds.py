"""``ragtune train``, ``ragtune runs list|show|compare`` and ``ragtune sweep``: thin wrappers over ``ragtune.tune``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ragtune.cli.common import emit_json, json_option, kb_option, show_progress
from ragtune.config import find_kb
from ragtune.errors import ConfigError, NotFoundError
from ragtune.tune.training.config import TrainConfig, load_train_config

F = TypeVar("F", bound=Callable[..., Any])
_FIELDS = [f.name for f in dataclasses.fields(TrainConfig)]
_TYPES = {"int": int, "float": float, "str": str}


def train_options(fn: F) -> F:
    """One ``--flag`` per TrainConfig field (help from the field); unset flags leave the config file's value."""
    for f in reversed(dataclasses.fields(TrainConfig)):
        flag = "--" + f.name.replace("_", "-")
        help_text = f"{f.metadata.get('help', '')} [default: {f.default}]"
        if str(f.type) == "bool":
            fn = click.option(f"{flag}/--no-{flag[2:]}", f.name, default=None, help=help_text)(fn)
        else:
            fn = click.option(flag, f.name, type=_TYPES[str(f.type)], default=None, help=help_text)(fn)
    return fn


def _config(config_file: Path | None, flags: dict[str, Any]) -> TrainConfig:
    return load_train_config(config_file, {k: flags.pop(k) for k in _FIELDS})


def _data_options(fn: F, required: bool = True) -> F:
    for option in reversed(
        [
            click.option(
                "--data",
                type=click.Path(path_type=Path, exists=True, dir_okay=False),
                required=required,
                help='Training data: chat JSONL, one {"messages": [...]} per line.',
            ),
            click.option(
                "--base",
                required=required,
                help="Base model: hf:PATH_OR_ID (a local dir or a cached hub id) or a bundled one (smollm2).",
            ),
            click.option(
                "--val",
                type=click.Path(path_type=Path, exists=True, dir_okay=False),
                default=None,
                help="Validation data (default: hold out --val-share of --data).",
            ),
            click.option(
                "--config",
                "config_file",
                type=click.Path(path_type=Path, exists=True, dir_okay=False),
                default=None,
                help="A TOML file of training settings (top level or [train]); flags override it.",
            ),
            click.option("--quiet", is_flag=True, help="No progress bar."),
        ]
    ):
        fn = option(fn)
    return fn


@click.command()
@_data_options
@click.option("--name", default=None, help="Register the model under this name (default: derived from the data).")
@click.option("--replace", is_flag=True, help="Replace a registered model of the same name.")
@click.option("--tag", "tags", multiple=True, help="Tag the registered model (repeatable).")
@click.option("--resume", is_flag=True, help="Continue the newest interrupted run on this data and base.")
@click.option("--resume-run", default=None, metavar="RUN", help="Continue this interrupted run.")
@train_options
@json_option
@kb_option
def train(
    data: Path,
    base: str,
    val: Path | None,
    config_file: Path | None,
    quiet: bool,
    name: str | None,
    replace: bool,
    tags: tuple[str, ...],
    resume: bool,
    resume_run: str | None,
    as_json: bool,
    kb_path: Path | None,
    **flags: Any,
) -> None:
    """Fine-tune BASE on chat examples (LoRA by default), track the run and register the model.

    \b
    Loss is on the last assistant turn of each example. Output: .ragtune/runs/RUN/ (adapter, checkpoints,
    config.json, metrics.json); the model is then usable as --model ft:NAME. Runs are tracked with MLflow:
      mlflow ui --backend-store-uri sqlite:///.ragtune/mlflow.db --default-artifact-root .ragtune/mlartifacts

    \b
    Example:
      ragtune train --data style.jsonl --base hf:Qwen/Qwen2.5-0.5B-Instruct --name support-voice \\
        --num-epochs 3 --lora-rank 16 --learning-rate 2e-4
      ragtune ask "How do I share a folder?" --model ft:support-voice --strategy base
    """
    from ragtune.tune.training.train import train as run_train

    config = _config(config_file, flags)
    result = run_train(
        data,
        base,
        config,
        val=val,
        name=name,
        kb_dir=kb_path,
        resume=resume_run or resume,
        quiet=quiet or as_json or not show_progress(),
        replace=replace,
        tags=tags,
    )
    if as_json:
        emit_json(result.as_dict())
        return
    if result.dropped_too_long:
        click.secho(
            f"warning: {result.dropped_too_long} training examples were left out as too long: the prompt alone "
            "filled max_length (raise --max-length to keep them)",
            fg="yellow",
            err=True,
        )
    m = result.metrics
    eval_part = f", eval loss {m['eval_loss']:.4f}" if "eval_loss" in m else ""
    resumed = f" (resumed from step {result.resumed_from_step})" if result.resumed_from_step else ""
    click.echo(
        f"Trained {result.model_name} in {result.train_seconds:.1f} s{resumed}: {result.global_step} steps, "
        f"train loss {m['train_loss']:.4f}{eval_part}, {result.tokens_per_s:,.0f} tokens/s."
    )
    click.echo(f"Run {result.run_id}: {result.run_dir}")
    click.echo(f"Use it: ragtune ask QUESTION --model ft:{result.model_name}")


def _tracker(kb_path: Path | None) -> Any:
    from ragtune.tune.training.tracking import DB_NAME, Tracker

    root = kb_path or find_kb()
    if root is None or not (Path(root) / DB_NAME).exists():
        raise NotFoundError("no tracked runs here (no .ragtune/mlflow.db); train a model first")
    return Tracker(root)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def _table(headers: list[str], rows: list[list[Any]]) -> None:
    cells = [[_fmt(v) for v in r] for r in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    click.secho("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)), bold=True)
    for r in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


@click.group()
def runs() -> None:
    """Tracked training runs (MLflow store in .ragtune/mlflow.db).

    \b
    Browse them in MLflow's UI:
      mlflow ui --backend-store-uri sqlite:///.ragtune/mlflow.db --default-artifact-root .ragtune/mlartifacts
    """


@runs.command("list")
@json_option
@kb_option
def runs_list(as_json: bool, kb_path: Path | None) -> None:
    """List runs, newest first."""
    found = _tracker(kb_path).runs()
    if as_json:
        emit_json(found)
        return
    if not found:
        click.echo("No runs yet.")
        return
    rows = [
        [
            r["run_id"],
            r["kind"],
            r["status"],
            r["model"],
            r["started"],
            r["metrics"].get("train_loss"),
            r["metrics"].get("eval_loss"),
            r["seconds"],
        ]
        for r in found
    ]
    _table(["run", "kind", "status", "model", "started", "train_loss", "eval_loss", "seconds"], rows)


@runs.command("show")
@click.argument("run")
@json_option
@kb_option
def runs_show(run: str, as_json: bool, kb_path: Path | None) -> None:
    """Show RUN's params, final metrics and loss curve (RUN: run id, MLflow id or a unique prefix)."""
    r = _tracker(kb_path).run(run)
    if as_json:
        emit_json(r)
        return
    click.secho(f"run {r['run_id']} ({r['status']}, MLflow {r['mlflow_run_id']})", bold=True)
    click.echo(f"model: {r['model'] or '-'}   started {r['started']}   {r['seconds'] or '-'} s")
    click.secho("\nparams", bold=True)
    for k, v in sorted(r["params"].items()):
        click.echo(f"  {k} = {v}")
    click.secho("\nmetrics (last value)", bold=True)
    for k, v in sorted(r["metrics"].items()):
        click.echo(f"  {k} = {_fmt(v)}")
    for key in ("loss", "eval_loss"):
        points = r["history"].get(key, [])
        if points:
            shown = points if len(points) <= 12 else [*points[:: max(1, len(points) // 12)], points[-1]]
            click.echo(f"\n{key} by step: " + ", ".join(f"{s}:{v:.3f}" for s, v in shown))


@runs.command("compare")
@click.argument("run_a")
@click.argument("run_b")
@json_option
@kb_option
def runs_compare(run_a: str, run_b: str, as_json: bool, kb_path: Path | None) -> None:
    """Compare two runs: the params that differ and the final metrics side by side."""
    from ragtune.tune.training.tracking import compare

    tracker = _tracker(kb_path)
    out = compare(tracker.run(run_a), tracker.run(run_b))
    if as_json:
        emit_json(out)
        return
    a, b = out["runs"]
    click.secho("params that differ", bold=True)
    if out["params_differ"]:
        _table(["param", a, b], [[k, *v] for k, v in out["params_differ"].items()])
    else:
        click.echo("  (none)")
    click.secho("\nfinal metrics", bold=True)
    _table(["metric", a, b], [[k, *v] for k, v in out["metrics"].items()])


def _sweep_data_options(fn: F) -> F:
    return _data_options(fn, required=False)


@click.command()
@_sweep_data_options
@click.option(
    "--rag",
    is_flag=True,
    help="Sweep RAG settings instead of training: k, template, source_tokens, mode, max_new_tokens, "
    "no_repeat_ngram_size, repetition_penalty, temperature (needs --eval and --model).",
)
@click.option(
    "--eval",
    "eval_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="With --rag: the eval set (JSONL); settings are chosen on its dev split.",
)
@click.option("--model", default=None, help="With --rag: the model spec (e.g. smollm2, hf:PATH, openai:NAME).")
@click.option(
    "--dev-share", type=float, default=1 / 3, show_default="1/3", help="With --rag: share of the eval set used."
)
@click.option("--limit", type=click.IntRange(min=1), default=None, help="With --rag: at most N dev questions.")
@click.option("--out", "out_path", type=click.Path(path_type=Path), default=None, help="With --rag: write JSON here.")
@click.option("--grid", multiple=True, metavar="NAME=V1,V2", help="Grid values, e.g. --grid lr=1e-4,3e-4 rank=8,16.")
@click.option(
    "--space",
    multiple=True,
    metavar="NAME=DIST:ARGS",
    help="Random-search range: loguniform:LO:HI, uniform:LO:HI, int:LO:HI or choice:A,B,C.",
)
@click.option("--trials", type=click.IntRange(min=1), default=None, help="Random-search trials (with --space).")
@click.option("--sweep-seed", type=int, default=0, show_default=True, help="Seed of the random search.")
@click.option("--metric", default="eval_loss", show_default=True, help="Metric that picks the best trial.")
@click.option(
    "--mode", type=click.Choice(["min", "max"]), default="min", show_default=True, help="Lower or higher is better."
)
@click.option("--name", default=None, help="Name prefix of the trials' models (NAME-t1, NAME-t2, ...).")
@click.argument("more", nargs=-1, metavar="[NAME=VALUES]...")
@train_options
@json_option
@kb_option
def sweep(
    data: Path | None,
    base: str | None,
    rag: bool,
    eval_path: Path | None,
    model: str | None,
    dev_share: float,
    limit: int | None,
    out_path: Path | None,
    val: Path | None,
    config_file: Path | None,
    quiet: bool,
    grid: tuple[str, ...],
    space: tuple[str, ...],
    trials: int | None,
    sweep_seed: int,
    metric: str,
    mode: str,
    name: str | None,
    more: tuple[str, ...],
    as_json: bool,
    kb_path: Path | None,
    **flags: Any,
) -> None:
    """Train one model per setting (grid or random search); tag the best 'best' in the registry. With --rag,
    choose a model's RAG settings instead: one answering run per setting on a dev split of --eval.

    \b
    Every trial is a tracked run nested under one sweep run in MLflow.
    Examples:
      ragtune sweep --data style.jsonl --base hf:./tiny --grid lr=1e-4,3e-4 rank=8,16
      ragtune sweep --data style.jsonl --base hf:./tiny --trials 6 \\
        --space lr=loguniform:1e-5:1e-3 rank=choice:4,8,16
      ragtune sweep --rag --eval eval.jsonl --model smollm2 --grid k=1,2,3 template=fenced,compact
    """
    if rag:
        _rag_sweep(eval_path, model, dev_share, limit, out_path, grid + more, as_json, kb_path)
        return
    if data is None or base is None:
        raise ConfigError("a training sweep needs --data FILE and --base MODEL (or pass --rag to sweep RAG settings)")
    from ragtune.tune.training.sweep import grid_trials, parse_grid, parse_space, random_trials
    from ragtune.tune.training.sweep import sweep as run_sweep

    if grid and space:
        raise ConfigError("use either --grid or --space, not both")
    grid, space = (grid + more, space) if grid else (grid, space + more)
    if grid:
        settings: list[dict[str, Any]] = list(grid_trials(parse_grid(grid)))
    elif space:
        settings = random_trials(parse_space(space), trials or 4, sweep_seed)
    else:
        raise ConfigError("give --grid NAME=V1,V2 ... or --space NAME=DIST:ARGS ... --trials N")
    config = _config(config_file, flags)
    keys = sorted({k for s in settings for k in s})
    if not as_json:
        click.echo(f"Sweep: {len(settings)} trials over {', '.join(keys)}")

    def report(t: Any) -> None:
        if not as_json:
            click.echo(f"  trial {t.number}: {t.params} → {metric} {t.value:.4f} ({t.result.model_name})")

    result = run_sweep(
        data,
        base,
        settings,
        config,
        val=val,
        name=name,
        metric=metric,
        mode=mode,
        kb_dir=kb_path,
        quiet=quiet or as_json or not show_progress(),
        on_trial=report,
    )
    if as_json:
        emit_json(result.as_dict())
        return
    rows = [
        [
            t.number,
            *(t.params.get(k) for k in keys),
            t.value,
            t.result.train_seconds,
            t.result.model_name,
            "best" if t is result.best else "",
        ]
        for t in result.trials
    ]
    click.echo()
    _table(["trial", *keys, result.metric, "seconds", "model", ""], rows)
    assert result.best is not None
    click.echo(f"\nBest: {result.best.result.model_name} ({result.metric} {result.best.value:.4f}), tagged 'best'.")


def _rag_sweep(
    eval_path: Path | None,
    model: str | None,
    dev_share: float,
    limit: int | None,
    out_path: Path | None,
    grid: tuple[str, ...],
    as_json: bool,
    kb_path: Path | None,
) -> None:
    import json

    from ragtune.config import raw_config
    from ragtune.evaluate.run.rag_sweep import parse_rag_grid, rag_sweep
    from ragtune.knowledge_base import KnowledgeBase
    from ragtune.llm.prompts import PromptTemplates

    if eval_path is None or model is None:
        raise ConfigError("sweep --rag needs --eval FILE and --model SPEC")
    parsed = parse_rag_grid(grid)
    config = raw_config()
    kb = KnowledgeBase.open(kb_path)
    templates = PromptTemplates.from_config(config.get("prompts"))
    keys = list(parsed)
    if not as_json:
        n = 1
        for values in parsed.values():
            n *= len(values)
        click.echo(f"RAG sweep: {n} trials over {', '.join(keys)} with {model}")

    def report(t: Any) -> None:
        if not as_json:
            click.echo(f"  trial {t.number}: {t.params} → quality {t.quality:.3f} ({t.seconds:.0f} s)")

    result = rag_sweep(
        kb,
        eval_path,
        model,
        parsed,
        templates,
        config=config,
        dev_share=dev_share,
        limit=limit,
        progress=show_progress() and not as_json,
        on_trial=report,
    )
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(result.as_dict(), indent=2) + "\n", encoding="utf-8")
    if as_json:
        emit_json(result.as_dict())
        return
    shown = [
        m for m in ("quality", "f1", "groundedness", "citation_recall") if any(m in t.metrics for t in result.trials)
    ]
    rows = []
    for t in result.trials:
        cells: list[Any] = [t.number, *(t.params.get(k) for k in keys)]
        for m in shown:
            v = t.metrics.get(m, {})
            cells.append(
                f"{v['mean']:.3f} [{v['ci_low']:.2f}, {v['ci_high']:.2f}]" if v.get("mean") is not None else "-"
            )
        rows.append([*cells, f"{t.seconds:.0f}", "best" if t is result.best else ""])
    click.echo()
    _table(["trial", *keys, *shown, "seconds", ""], rows)
    click.echo(f"\nChosen on {len(result.dev)} dev questions; {len(result.held_out)} held out for `ragtune compare`.")
    click.echo("Best settings, for ragtune.toml:\n")
    click.echo(result.toml())
