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
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import psutil

PRESETS = {
    "other-threads": {"WNLIB_THREADS": "2", "WNLIB_SEED": "1"},
    "one-thread": {"WNLIB_THREADS": "1", "WNLIB_SEED": "2"},
}
ROOT = Path(__file__).resolve().parent.parent
RUN = ("import sys; sys.path.insert(0, sys.argv[2]); from tools.notebooks import run_notebook; "
       "run_notebook(sys.argv[1])")


def _run(notebook: str, env: dict, timeout: int) -> tuple[bool, str]:
    """One execution in a fresh process. On a timeout that process and its kernel get SIGABRT, so that Python's
    faulthandler writes where each thread stood (the kernel into ``$WNLIB_FAULT_LOG``, which ``wnlib.book.setup``
    enables), then SIGKILL."""
    with tempfile.NamedTemporaryFile("r", suffix=".log") as fault_log:
        proc = subprocess.Popen([sys.executable, "-c", RUN, notebook, str(ROOT)], env=dict(env, WNLIB_FAULT_LOG=fault_log.name),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            out, _ = proc.communicate(timeout=timeout)
            return proc.returncode == 0, out[-3000:]
        except subprocess.TimeoutExpired:
            out = ""
            # the kernel runs in a session of its own (jupyter_client starts it so): signal it by pid
            group = [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
            for sig, wait in ((signal.SIGABRT, 10), (signal.SIGKILL, None)):
                for pid in group:
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        pass
                try:
                    out, _ = proc.communicate(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
            stacks = "\n".join(line for line in (fault_log.read() + "\n" + (out or "")).splitlines()
                               if not line.startswith("Extension modules"))
            return False, f"timed out after {timeout} s; where each thread stood (kernel first):\n{stacks[-8000:]}"


def check(notebook: str, preset: str, timeout: int) -> tuple[str, str, bool, float, str]:
    """Execute ``notebook`` under ``preset`` in a fresh process; (notebook, preset, ok, seconds, error tail).

    A run that times out is run once more (and reported): a hang that does not recur is the machine's, one that
    does is the book's. A cell that raises is never rerun."""
    env = dict(os.environ, WNLIB_EXPLORER_PRECOMPUTE="0", PYTHONFAULTHANDLER="1", **PRESETS[preset])
    start = time.perf_counter()
    ok, tail = _run(notebook, env, timeout)
    if not ok and tail.startswith("timed out"):
        print(f"     {notebook} [{preset}] timed out; running it again\n{tail}", file=sys.stderr, flush=True)
        ok, tail = _run(notebook, env, timeout)
    return notebook, preset, ok, time.perf_counter() - start, tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/reproduce_check.py", description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="+")
    parser.add_argument("--preset", action="append", choices=sorted(PRESETS),
                        help="perturbation to run (repeatable; default: every preset)")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks executed at once (default 1: a chapter run with two threads beside another is oversubscribed)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per execution of a notebook (default 600; the slowest chapter takes about 150)")
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
