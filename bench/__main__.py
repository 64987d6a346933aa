"""``python -m bench [--quick] [--only NAME ...]``: run the benchmarks, print one table, save it as JSON.

A full run writes ``bench/results/latest.json``; ``--quick`` (small sizes, a smoke test) and ``--only`` runs
write only where ``--out`` says, or with ``--update`` replace their rows in ``latest.json``.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import torch

from wnlib.hardware import describe, device

from .report import format_table, save

BENCHMARKS = ("epoch", "spectral", "hvp", "tracking", "book", "explorers")
LATEST = Path(__file__).parent / "results" / "latest.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and one repetition (smoke test)")
    parser.add_argument("--only", action="append", choices=BENCHMARKS, metavar="NAME",
                        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--out", type=Path, help="where to write the JSON table")
    parser.add_argument("--update", action="store_true",
                        help="replace only the benchmarks run in bench/results/latest.json (or --out), keep the rest")
    args = parser.parse_args(argv)
    names = args.only or list(BENCHMARKS)
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = device()
    hardware = describe(dev)
    print(f"hardware: {hardware}; torch threads: {torch.get_num_threads()}", flush=True)
    rows = []
    for name in names:
        print(f"running {name} ...", flush=True)
        module = importlib.import_module(f"bench.{name}")
        rows += module.run(dev, quick=args.quick)
    print(format_table(rows))
    out = args.out or (LATEST if args.update or (not args.quick and not args.only) else None)
    if out is not None:
        save(rows, out, hardware=hardware, quick=args.quick, threads=torch.get_num_threads(), update=args.update)
        print(f"saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
