"""Command line: ``python -m wnlib reproduce EXPERIMENT`` and
``python -m wnlib sweep CONFIG_FILE``.

Explained in: README.md ("Reproducing the paper's experiments"). Rerunning the same
command continues an interrupted sweep (finished runs are loaded, unfinished ones resume
from their last checkpoint).

A sweep file (JSON, or TOML on Python >= 3.11) holds ``base`` (fields shared by every
run), ``grid`` (field -> list of values; the cartesian product), ``runs`` (a list of
explicit runs, each merged over ``base``) and optionally ``out`` and
``checkpoint_every``. Fields are those of :class:`wnlib.experiments.RunConfig`::

    {"base": {"dataset": "digits", "epochs": 20},
     "grid": {"width": [32, 64], "seed": [0, 1]}}
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import textwrap
import time
from pathlib import Path

from .. import _checks
from ..data import DATASETS
from .config import RunConfig, default_results_dir
from . import registry
from .registry import EXPERIMENTS, PROFILES, grid
from .runner import CHECKPOINT_EVERY, sweep
from .store import Store, read_regular, results_dir

SWEEP_FILE_LIMIT = 1 << 20
"""Largest sweep file read, in bytes."""


def _folder(text: str) -> Path:
    """``--out``: a non-empty folder path, ``~`` expanded."""
    try:
        return results_dir(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be an int > 0, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    listed = "\n".join(
        f"  {name:<11} {e.description}" for name, e in EXPERIMENTS.items()
    )
    listed += f"\n  {'all':<11} every experiment above\n\nprofiles (--profile):\n"
    listed += "\n".join(
        textwrap.fill(
            f"{name:<6} {text}", 110, initial_indent="  ", subsequent_indent=" " * 9
        )
        for name, text in registry.describe_profiles().items()
    )
    parser = argparse.ArgumentParser(
        prog="python -m wnlib",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Reproduce the paper's experiments and the book's sweeps (cached, "
            "resumable)."
        ),
        epilog=f"experiments:\n{listed}\n\n"
        "Rerun the same command to continue an interrupted sweep. Exit status: 0 done, "
        "1 an error\nstopped the sweep, 2 a bad argument, 3 done but some runs "
        "diverged.",
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="{reproduce,sweep}"
    )

    rep = sub.add_parser(
        "reproduce",
        help="run one named experiment (or all)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"experiments:\n{listed}",
    )
    rep.add_argument(
        "experiment",
        choices=[*EXPERIMENTS, "all"],
        metavar="EXPERIMENT",
        help=f"one of: {', '.join([*EXPERIMENTS, 'all'])}",
    )
    rep.add_argument(
        "--profile",
        choices=PROFILES,
        default="quick",
        help=(
            f"one of: {', '.join(PROFILES)} (default quick; listed below with what "
            f"each changes)"
        ),
    )
    rep.add_argument(
        "--dataset",
        choices=DATASETS,
        default=None,
        help=(
            "run on this dataset only, with the profile's settings (default: the "
            "profile's data)"
        ),
    )
    _common(rep)

    sw = sub.add_parser(
        "sweep", help="run the configurations listed in a JSON or TOML file"
    )
    sw.add_argument(
        "config_file",
        metavar="CONFIG_FILE",
        type=Path,
        help="JSON or TOML file: base, grid, runs",
    )
    _common(sw)
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=_folder,
        default=None,
        help=f"results folder (default: {default_results_dir()})",
    )
    parser.add_argument(
        "--workers", type=_positive, default=None, help="local worker processes"
    )
    parser.add_argument(
        "--checkpoint-every",
        type=_positive,
        default=None,
        metavar="EPOCHS",
        help=f"epochs between checkpoints (default {CHECKPOINT_EVERY})",
    )


def read_sweep_file(path: Path) -> tuple[list[RunConfig], dict]:
    """Configurations and options (``out``, ``checkpoint_every``) of a JSON/TOML sweep
    file (a regular file of at most 1 MiB named ``*.json`` or ``*.toml``)."""
    if path.suffix not in (".json", ".toml"):
        raise ValueError(
            f"{path}: a sweep file must be JSON (*.json) or TOML (*.toml), got "
            f"{path.suffix or 'no suffix'!r}"
        )
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a sweep file")
    try:
        data = read_regular(path, SWEEP_FILE_LIMIT)
    except OSError as err:
        raise ValueError(f"{path}: {err.strerror or err}") from None
    if data is None:
        raise ValueError(f"no such file {str(path)!r}")
    try:
        text = data.decode()
        if path.suffix == ".toml":
            try:
                import tomllib
            except ImportError:  # Python < 3.11
                raise ValueError(
                    "reading TOML needs Python >= 3.11; write the sweep file as JSON"
                ) from None
            spec = tomllib.loads(text)
        else:
            spec = json.loads(text)
    except RecursionError:
        raise ValueError(
            f"{path}: nested too deeply to be a sweep file (base, grid, runs)"
        ) from None
    except ValueError as err:  # JSONDecodeError, TOMLDecodeError, UnicodeDecodeError
        raise ValueError(
            f"{path}: not valid {path.suffix[1:].upper()}: {err}"
        ) from None
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: expected a table/object with keys base, grid, runs")
    allowed = ("base", "grid", "runs", "out", "checkpoint_every")
    for name in spec:
        if name not in allowed:
            raise ValueError(
                f"{path}: unknown key {name!r}; accepted keys: {', '.join(allowed)}"
            )
    base_fields, axes, runs = (
        spec.get("base", {}),
        spec.get("grid", {}),
        spec.get("runs", []),
    )
    if not isinstance(base_fields, dict):
        raise ValueError(
            f"{path}: 'base' must be a table/object of RunConfig fields, got "
            f"{type(base_fields).__name__}"
        )
    if not isinstance(axes, dict):
        raise ValueError(
            f"{path}: 'grid' must be a table/object field -> list of values, got "
            f"{type(axes).__name__}"
        )
    for field, values in axes.items():
        if not isinstance(values, list) or not values:
            raise ValueError(
                f"{path}: grid value of {field!r} must be a non-empty list, got "
                f"{values!r}"
            )
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        raise ValueError(
            f"{path}: 'runs' must be a list of tables/objects of RunConfig fields"
        )
    if "out" in spec and not isinstance(spec["out"], str):
        raise ValueError(
            f"{path}: 'out' must be a string (a folder), got {spec['out']!r}"
        )
    if "checkpoint_every" in spec:
        every = spec["checkpoint_every"]
        if isinstance(every, bool) or not isinstance(every, int) or every <= 0:
            raise ValueError(
                f"{path}: 'checkpoint_every' must be an int > 0 (epochs), got {every!r}"
            )
    base = RunConfig.from_dict(base_fields)
    _checks.run_count([len(v) for v in axes.values()] + [1], "the grid")
    configs = grid(base, **axes) if axes else []
    configs += [RunConfig.from_dict({**base_fields, **r}) for r in runs]
    if not configs and "base" in spec:
        configs = [base]
    if not configs:
        raise ValueError(f"{path}: no runs; give 'base', 'grid' or 'runs'")
    options = {k: spec[k] for k in ("out", "checkpoint_every") if k in spec}
    if "out" in options:
        options["out"] = results_dir(options["out"])
    return configs, options


EXIT_ERROR, EXIT_DIVERGED, EXIT_INTERRUPTED = 1, 3, 130
"""Exit statuses besides 0 (and argparse's 2 for a bad argument): an error that stopped
the sweep (one line on stderr), a sweep that finished with diverged runs (listed on
stderr), Ctrl-C (one line; rerun to resume)."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m wnlib`` and the ``wnlib`` script: expected errors end
    in one line on stderr and an exit status, never a traceback."""
    parser = _parser()
    try:
        return _main(parser, parser.parse_args(argv))
    except KeyboardInterrupt:
        print(
            f"{parser.prog}: interrupted; finished runs and checkpoints are kept: "
            "rerun the same command to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except (ValueError, TypeError, RuntimeError, OSError, MemoryError) as err:
        # a dataset that cannot be had, a store that cannot be written, a run refused
        # when it starts
        line = " ".join(str(err).split()) or type(err).__name__
        print(f"{parser.prog}: error: {line}", file=sys.stderr)
        return EXIT_ERROR


def _main(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    checkpoint_every = args.checkpoint_every
    if args.command == "sweep":
        try:
            configs, options = read_sweep_file(args.config_file)
        except (ValueError, TypeError) as err:
            parser.error(f"argument CONFIG_FILE: {err}")
        jobs = [("sweep", configs, args.out or options.get("out"))]
        checkpoint_every = checkpoint_every or options.get("checkpoint_every")
    else:
        names = list(EXPERIMENTS) if args.experiment == "all" else [args.experiment]
        jobs = [
            (name, registry.configs(name, args.profile, dataset=args.dataset), args.out)
            for name in names
        ]
    for (
        _,
        configs,
        out,
    ) in jobs:  # an unwritable --out fails now, before the first run (if any must run)
        store = Store(out if out is not None else default_results_dir())
        if any(not store.is_done(c.key) for c in configs):
            try:
                store.check_writable()
            except OSError as err:
                print(f"{parser.prog}: error: argument --out: {err}", file=sys.stderr)
                return EXIT_ERROR
    status = 0
    for name, configs, out in jobs:
        started = time.perf_counter()
        frame, metas = sweep(
            configs,
            out=out,
            checkpoint_every=checkpoint_every or CHECKPOINT_EVERY,
            max_workers=args.workers,
        )
        where = out if out is not None else default_results_dir()
        diverged = [m["key"] for m in metas if m["status"] == "diverged"]
        print(
            f"{name}: {len(metas)} runs ({len(diverged)} diverged), {len(frame)} rows "
            f"in {where} ({time.perf_counter() - started:.1f} s)",
            flush=True,
        )
        if diverged:
            print(
                f"{parser.prog}: {len(diverged)} run(s) of {name} diverged (non-finite "
                f"loss; their history up to the divergence is stored): "
                f"{', '.join(diverged)}",
                file=sys.stderr,
            )
            status = EXIT_DIVERGED
    return status
