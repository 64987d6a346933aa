"""Optional dependencies: the core needs torch, numpy and scipy only; the rest comes
with an extra.

Extras (``pip install "wnlib[NAME]"``): ``data`` (torchvision, scikit-learn: MNIST,
CIFAR-10, digits), ``experiments`` (pandas, tqdm: tables, the run store, sweeps, the
command line), ``book`` (the chapters' figures, widgets and profiles: plotly,
ipywidgets, and the two extras before). ``requirements.txt`` installs everything.
"""

from __future__ import annotations

import importlib


def require(module: str, extra: str, what: str):
    """Import ``module``, or raise an ImportError naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"{what} needs {module.split('.')[0]!r}, which comes with the {extra!r} "
            f'extra: pip install "wnlib[{extra}]"'
        ) from err


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(
    total: int, initial: int, desc: str, *, enabled: bool = True, unit: str = "step"
):
    """A tqdm bar when tqdm is installed and ``enabled``, else an object that does
    nothing."""
    if enabled:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return _NoBar()
        return tqdm(total=total, initial=initial, desc=desc, unit=unit, leave=False)
    return _NoBar()
