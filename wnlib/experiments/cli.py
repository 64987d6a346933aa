"""Command line: ``python -m wnlib reproduce EXPERIMENT`` and ``python -m wnlib sweep CONFIG_FILE``.

Explained in: README.md ("Reproducing the paper's experiments"). Rerunning the same command continues an
interrupted sweep (finished runs are loaded, unfinished ones resume from their last checkpoint).

A sweep file (JSON, or TOML on Python >= 3.11) holds ``base`` (fields shared by every run), ``grid`` (field ->
list of values; the cartesian product), ``runs`` (a list of explicit runs, each merged over ``base``) and
optionally ``out`` and ``checkpoint_every``. Fields are those of :class:`wnlib.experiments.RunConfig`::

    {"base": {"dataset": "digits", "epochs": 20}, "grid": {"width": [32, 64], "seed": [0, 1]}}
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from ..data import DATASETS
from .config import RunConfig, default_results_dir
from . import registry
from .registry import EXPERIMENTS, PROFILES, grid
from .runner import sweep


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be an int > 0, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    listed = "\n".join(f"  {name:<11} {e.description}" for name, e in EXPERIMENTS.items())
    parser = argparse.ArgumentParser(
        prog="python -m wnlib", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Reproduce the paper's experiments and the book's sweeps (cached, resumable).",
        epilog=f"experiments:\n{listed}\n  {'all':<11} every experiment above\n\n"
               "Rerun the same command to continue an interrupted sweep.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{reproduce,sweep}")

    rep = sub.add_parser("reproduce", help="run one named experiment (or all)",
                         formatter_class=argparse.RawDescriptionHelpFormatter,
                         epilog=f"experiments:\n{listed}\n  {'all':<11} every experiment above")
    rep.add_argument("experiment", choices=[*EXPERIMENTS, "all"], metavar="EXPERIMENT",
                     help=f"one of: {', '.join([*EXPERIMENTS, 'all'])}")
    rep.add_argument("--profile", choices=PROFILES, default="quick",
                     help="quick: digits, reduced sizes, CPU minutes; full: the paper's settings (GPU)")
    rep.add_argument("--dataset", choices=DATASETS, default=None, help="replace the profile's dataset")
    _common(rep)

    sw = sub.add_parser("sweep", help="run the configurations listed in a JSON or TOML file")
    sw.add_argument("config_file", metavar="CONFIG_FILE", type=Path, help="JSON or TOML file: base, grid, runs")
    _common(sw)
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=None,
                        help=f"results folder (default: {default_results_dir()})")
    parser.add_argument("--workers", type=_positive, default=None, help="local worker processes")
    parser.add_argument("--checkpoint-every", type=_positive, default=None, metavar="EPOCHS",
                        help="epochs between checkpoints (default 5)")


def read_sweep_file(path: Path) -> tuple[list[RunConfig], dict]:
    """Configurations and options (``out``, ``checkpoint_every``) of a JSON/TOML sweep file."""
    text = path.read_text()
    if path.suffix == ".toml":
        try:
            import tomllib
        except ImportError:  # Python < 3.11
            raise ValueError("reading TOML needs Python >= 3.11; write the sweep file as JSON") from None
        spec = tomllib.loads(text)
    else:
        spec = json.loads(text)
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: expected a table/object with keys base, grid, runs")
    allowed = ("base", "grid", "runs", "out", "checkpoint_every")
    for name in spec:
        if name not in allowed:
            raise ValueError(f"{path}: unknown key {name!r}; accepted keys: {', '.join(allowed)}")
    base = RunConfig.from_dict(spec.get("base", {}))
    configs = grid(base, **spec["grid"]) if spec.get("grid") else []
    configs += [RunConfig.from_dict({**spec.get("base", {}), **r}) for r in spec.get("runs", [])]
    if not configs and "base" in spec:
        configs = [base]
    if not configs:
        raise ValueError(f"{path}: no runs; give 'base', 'grid' or 'runs'")
    return configs, {k: spec[k] for k in ("out", "checkpoint_every") if k in spec}


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m wnlib`` and the ``wnlib`` script."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    checkpoint_every = args.checkpoint_every
    if args.command == "sweep":
        if not args.config_file.is_file():
            parser.error(f"argument CONFIG_FILE: no such file {str(args.config_file)!r}")
        try:
            configs, options = read_sweep_file(args.config_file)
        except (ValueError, TypeError) as err:
            parser.error(f"argument CONFIG_FILE: {err}")
        jobs = [("sweep", configs, args.out or options.get("out"))]
        checkpoint_every = checkpoint_every or options.get("checkpoint_every")
    else:
        names = list(EXPERIMENTS) if args.experiment == "all" else [args.experiment]
        jobs = [(name, registry.configs(name, args.profile, dataset=args.dataset), args.out) for name in names]
    for name, configs, out in jobs:
        started = time.perf_counter()
        try:
            frame, metas = sweep(configs, out=out, checkpoint_every=checkpoint_every or 5,
                                             max_workers=args.workers)
        except RuntimeError as err:  # e.g. a dataset that is neither on disk nor downloadable
            print(f"{parser.prog}: error: {err}", file=sys.stderr)
            return 1
        where = out if out is not None else default_results_dir()
        print(f"{name}: {len(metas)} runs, {len(frame)} rows in {where} "
              f"({time.perf_counter() - started:.1f} s)", flush=True)
    return 0
