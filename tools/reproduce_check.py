"""Re-execute the book's chapters as another machine would, and require every in-cell assert to hold.

A different CPU changes the last bits of float32 (and sometimes float64) arithmetic; so does torch's thread count;
a claim that rests on one seed's draw changes with the seed. The stored outputs were made with one of each. This
check re-executes every chapter under perturbations of both kinds, set through the variables that
``wnlib.book.setup`` reads (``WNLIB_THREADS``: torch's CPU threads; ``WNLIB_SEED``: the chapter's base seed), and
fails if any cell raises: the asserts in the cells are the book's sentences, so every one must hold. Outputs are
not compared (that is nbval's job on the stored run) and nothing is written back.

    python tools/reproduce_check.py book/*.ipynb                 # every preset (make reproduce-check)
    python tools/reproduce_check.py --preset other-threads book/04_generalization.ipynb

Presets (each changes the thread count of every chapter on a 2-core machine, and the seed):
``other-threads``: ``WNLIB_THREADS=2 WNLIB_SEED=1`` (chapters 2-4 store one thread);
``one-thread``: ``WNLIB_THREADS=1 WNLIB_SEED=2`` (chapters 0, 1 and 5 store torch's default).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

PRESETS = {
    "other-threads": {"WNLIB_THREADS": "2", "WNLIB_SEED": "1"},
    "one-thread": {"WNLIB_THREADS": "1", "WNLIB_SEED": "2"},
}
RUN = ("import sys; from wnlib.book.notebooks import run_notebook; run_notebook(sys.argv[1])")


def check(notebook: str, preset: str, timeout: int) -> tuple[str, str, bool, float, str]:
    """Execute ``notebook`` under ``preset`` in a fresh process; (notebook, preset, ok, seconds, error tail)."""
    env = dict(os.environ, WNLIB_EXPLORER_PRECOMPUTE="0", **PRESETS[preset])
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-c", RUN, notebook], env=env, capture_output=True, text=True,
                              timeout=timeout)
        ok, tail = done.returncode == 0, (done.stderr or done.stdout)[-3000:]
    except subprocess.TimeoutExpired:
        ok, tail = False, f"timed out after {timeout} s"
    return notebook, preset, ok, time.perf_counter() - start, tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/reproduce_check.py", description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="+")
    parser.add_argument("--preset", action="append", choices=sorted(PRESETS),
                        help="perturbation to run (repeatable; default: every preset)")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks executed at once (default 1: a chapter run with two threads beside another is oversubscribed)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per notebook (default 1800)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    missing = [nb for nb in args.notebooks if not Path(nb).is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    presets = args.preset or sorted(PRESETS)
    # longest first: the slowest chapters start at once
    tasks = sorted(((nb, p) for p in presets for nb in args.notebooks),
                   key=lambda t: -Path(t[0]).stat().st_size)
    results = []
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for future in as_completed([pool.submit(check, *t, args.timeout) for t in tasks]):
            nb, preset, ok, seconds, _ = result = future.result()
            results.append(result)
            env = " ".join(f"{k}={v}" for k, v in PRESETS[preset].items())
            print(f"{'ok  ' if ok else 'FAIL'} {nb} [{env}] {seconds:.0f} s", flush=True)
    failed = [r for r in results if not r[2]]
    for nb, preset, _, _, tail in failed:
        print(f"\n--- {nb} under {preset}: a cell raised ---\n{tail}", file=sys.stderr)
    print(f"reproduce-check: {len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
