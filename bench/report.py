"""The benchmark table: one ``Row`` per measured number, printed as text and saved as JSON."""
from __future__ import annotations

import datetime
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

COLUMNS = ("benchmark", "case", "metric", "value", "target", "met")


@dataclass
class Row:
    """One number: ``value`` of ``metric`` for ``case``; ``met`` is None where there is no ``target``."""

    benchmark: str
    case: str
    metric: str
    value: float
    target: str = ""
    met: bool | None = None


def row(benchmark: str, case: str, metric: str, value: float, *, at_most: float | None = None,
        at_least: float | None = None) -> Row:
    """A ``Row`` whose target (if any) is ``value <= at_most`` or ``value >= at_least``."""
    value = float(value)
    if at_most is not None:
        return Row(benchmark, case, metric, value, f"<= {at_most:g}", bool(value <= at_most))
    if at_least is not None:
        return Row(benchmark, case, metric, value, f">= {at_least:g}", bool(value >= at_least))
    return Row(benchmark, case, metric, value)


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}"
    return f"{value:.2e}"


def format_table(rows: list[Row]) -> str:
    """A plain-text (also Markdown) table with the columns ``COLUMNS``."""
    cells = [[r.benchmark, r.case, r.metric, _fmt(r.value), r.target,
              "" if r.met is None else ("yes" if r.met else "NO")] for r in rows]
    widths = [max(len(c) for c in col) for col in zip(COLUMNS, *cells)]
    line = lambda items: "| " + " | ".join(s.ljust(w) for s, w in zip(items, widths)) + " |"  # noqa: E731
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(COLUMNS), rule] + [line(c) for c in cells])


def save(rows: list[Row], path: Path, *, hardware: str, quick: bool, threads: int, update: bool = False) -> None:
    """Write the table as JSON with the hardware, torch version, date and profile it ran with.

    ``update``: keep the rows of the benchmarks not in ``rows`` from the file already at ``path``, and record
    per benchmark when it was measured (``dates``).
    """
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    fresh = list(dict.fromkeys(r.benchmark for r in rows))
    dates = {name: now for name in fresh}
    if update and path.exists():
        old = json.loads(path.read_text())
        kept = [Row(**r) for r in old["rows"] if r["benchmark"] not in fresh]
        dates = {**{r.benchmark: old.get("dates", {}).get(r.benchmark, old["date"]) for r in kept}, **dates}
        order = list(dict.fromkeys([r["benchmark"] for r in old["rows"]] + fresh))
        rows = sorted(kept + rows, key=lambda r: order.index(r.benchmark))  # stable: rows keep their order
    payload = {
        "hardware": hardware,
        "torch": torch.__version__,
        "date": now,
        "dates": dates,
        "torch_threads": threads,
        "quick": quick,
        "columns": list(COLUMNS),
        "rows": [asdict(r) for r in rows],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1) + "\n")


def load(path: Path) -> tuple[list[Row], dict]:
    """The rows of a saved table and its header (hardware, torch, dates, threads)."""
    payload = json.loads(Path(path).read_text())
    return [Row(**r) for r in payload.pop("rows")], payload


def goal_rows(rows: list[Row]) -> list[Row]:
    """The rows that carry a target: what the README's goal table shows."""
    return [r for r in rows if r.target]


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.report [--goals] [FILE]``: print a saved table (default ``bench/results/latest.json``)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.report", description=main.__doc__.split(": ", 1)[1])
    parser.add_argument("file", nargs="?", type=Path, default=Path(__file__).parent / "results" / "latest.json")
    parser.add_argument("--goals", action="store_true", help="only the rows with a target")
    args = parser.parse_args(argv)
    rows, _ = load(args.file)
    print(format_table(goal_rows(rows) if args.goals else rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
