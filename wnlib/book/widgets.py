"""Live explorers for the chapters: ipywidgets controls that recompute through wnlib and
redraw a plotly figure.

Explained in: book/00_introduction.ipynb (reading the book). Each explorer comes with a
question that tells the reader what to look for. Python callbacks need a kernel
(Jupyter, Colab); the static pages pair every explorer with a kernel-free slider figure
(:func:`wnlib.book.figures.slider_figure`) and show, in the explorer's place, a note
(:data:`STATIC_NOTE`) instead of controls that would move without redrawing anything.
Works with ipywidgets 7.7 (Colab's) and 8.

A move should redraw in well under a second, while ``compute`` may retrain or run
Lanczos for seconds. So every result is kept (one per combination of control values),
and once the kernel is idle the explorer's own background thread computes the settings
one step away from the current one along each control, then the rest of each control's
range: a reader who moves a control one step gets a figure that is already there. The
thread never starts a computation while a cell runs (IPython's
``pre_run_cell``/``post_run_cell`` events) or right after one (executing a whole
notebook, as nbval and ``make notebooks`` do, is not slowed), nor while a move is being
computed; the explorer's box carries the DOM class ``wn-explorer-ready`` whenever every
one-step move is cached (the browser tests and ``bench/explorers.py`` read it). Each
explorer owns its state: ``explorer(..., precompute=False)`` (default: the environment
variable ``WNLIB_EXPLORER_PRECOMPUTE``, read when the explorer is made; ``0`` turns it
off) computes only what a move needs, and ``box.precompute`` switches it later.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future
from typing import Callable

import ipywidgets as W
from IPython import get_ipython
from IPython.display import display

WIDTHS = (16, 32, 64, 128, 256, 512, 1024)
INIT_SCALES = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
DEPTHS = (1, 2, 3, 4, 6, 8)


def width_slider(value: int = 128, options=WIDTHS) -> W.SelectionSlider:
    """Width ``m`` on a doubling grid."""
    return W.SelectionSlider(
        options=list(options),
        value=value,
        description="width m",
        continuous_update=False,
    )


def init_scale_slider(value: float = 0.5, options=INIT_SCALES) -> W.SelectionSlider:
    """Init scale ``c`` on a log grid (the paper uses 0.5 and 5)."""
    return W.SelectionSlider(
        options=list(options),
        value=value,
        description="init scale c",
        continuous_update=False,
    )


def depth_slider(value: int = 2, options=DEPTHS) -> W.SelectionSlider:
    """Depth ``L``."""
    return W.SelectionSlider(
        options=list(options),
        value=value,
        description="depth L",
        continuous_update=False,
    )


# seconds without a running cell before the background thread starts a computation
IDLE_S = 2.0
PRECOMPUTE_ENV = "WNLIB_EXPLORER_PRECOMPUTE"
_SWITCH = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}


def precompute_default() -> bool:
    """``$WNLIB_EXPLORER_PRECOMPUTE`` (1/true/yes/on or 0/false/no/off), read now;
    unset or empty: on."""
    raw = os.environ.get(PRECOMPUTE_ENV, "").strip().lower()
    if raw and raw not in _SWITCH:
        raise ValueError(
            f"${PRECOMPUTE_ENV} must be one of {', '.join(_SWITCH)}, got {raw!r}"
        )
    return _SWITCH.get(raw, True)


def _check_precompute(value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(
            f"precompute must be True or False (None: ${PRECOMPUTE_ENV}), got {value!r}"
        )
    return value


class _KernelIdle:
    """Whether a cell runs now, and since when none has (the IPython ``shell``'s cell
    events, registered until :meth:`close`; busy until the first cell ends)."""

    def __init__(self, shell):
        self.busy, self.since, self.shell = True, time.monotonic(), shell
        shell.events.register("pre_run_cell", self._pre)
        shell.events.register("post_run_cell", self._post)

    def _pre(self, *_):
        self.busy = True

    def _post(self, *_):
        self.busy, self.since = False, time.monotonic()

    def idle_for(self) -> float:
        return 0.0 if self.busy else time.monotonic() - self.since

    def close(self) -> None:
        for event, callback in (
            ("pre_run_cell", self._pre),
            ("post_run_cell", self._post),
        ):
            try:
                self.shell.events.unregister(event, callback)
            except ValueError:  # already gone
                pass


class _Results:
    """``compute(**values)`` once per combination of values, shared by the redraws
    and the background thread."""

    def __init__(self, compute: Callable, grid: dict[str, tuple | None]):
        self.compute, self.grid = compute, grid
        self.done: dict[tuple, object] = {}
        self.running: dict[tuple, Future] = {}
        self.lock = threading.Lock()

    @staticmethod
    def key(values: dict) -> tuple:
        return tuple(values.items())

    def cached(self, values: dict) -> bool:
        return self.key(values) in self.done

    def get(self, values: dict, *, background: bool = False):
        """The result for ``values``: kept, awaited (computing elsewhere) or computed
        here (errors propagate).

        In the background: never waits, and returns None on an error (the redraw that
        needs it recomputes, so the reader sees the traceback in the output area).
        """
        key = self.key(values)
        while True:
            with self.lock:
                if key in self.done:
                    return self.done[key]
                future = self.running.get(key)
                mine = future is None
                if mine:
                    future = self.running[key] = Future()
            if mine:
                try:
                    result = self.compute(**values)
                except BaseException as err:
                    with self.lock:
                        self.running.pop(key, None)
                    future.set_exception(err)
                    if background:
                        return None
                    raise
                with self.lock:
                    self.done[key] = result
                    self.running.pop(key, None)
                future.set_result(result)
                return result
            if background:
                return None
            try:
                return future.result()
            except (
                Exception
            ):  # failed in the background: compute here, where the error is shown
                continue

    def plan(self, values: dict) -> tuple[list[dict], list[dict]]:
        """The settings one step away from ``values`` along each control, then the rest
        of each control's range, nearest first; only controls with a known list of
        options (selection sliders) take part."""
        axes = {
            name: (options, options.index(values[name]))
            for name, options in self.grid.items()
            if options and values[name] in options
        }
        near, far = [], []
        for distance in range(1, max((len(o) for o, _ in axes.values()), default=1)):
            for name, (options, at) in axes.items():
                (near if distance == 1 else far).extend(
                    {**values, name: options[i]}
                    for i in (at + distance, at - distance)
                    if 0 <= i < len(options)
                )
        return near, far


class _Precompute(threading.Thread):
    """One explorer's daemon thread: computes, in order, what its explorer may need
    next, while ``enabled`` and the kernel is idle (``idle``: a
    :class:`_KernelIdle`); :meth:`stop` ends it."""

    def __init__(self, results: _Results, idle: _KernelIdle, enabled: bool):
        super().__init__(name="wnlib-explorer-precompute", daemon=True)
        self.results, self.idle, self.enabled = results, idle, enabled
        self.wake = threading.Condition()
        self.queue: list[dict] = []
        self.on_done: Callable | None = None
        self.foreground = 0
        self.stopped = False

    def focus(self, values: dict, on_done: Callable) -> None:
        near, far = self.results.plan(values)
        with self.wake:
            self.on_done = on_done
            self.queue = [v for v in near + far if not self.results.cached(v)]
            self.wake.notify()

    def _next(self):
        """The next setting and what to call after it; None once stopped."""
        with self.wake:
            while not self.stopped and not (
                self.enabled
                and self.queue
                and self.foreground == 0
                and self.idle.idle_for() >= IDLE_S
            ):
                self.wake.wait(timeout=0.25)
            return None if self.stopped else (self.queue.pop(0), self.on_done)

    def run(self) -> None:
        while (task := self._next()) is not None:
            values, on_done = task
            self.results.get(values, background=True)
            try:
                on_done()
            except Exception:  # a closed widget: nothing to mark
                pass

    def stop(self) -> None:
        with self.wake:
            self.stopped = True
            self.wake.notify()
        self.idle.close()


def _precompute(results: _Results, enabled: bool) -> _Precompute | None:
    """A started background thread for ``results``; None outside IPython (no cell
    events to wait for)."""
    shell = get_ipython()
    if shell is None or getattr(shell, "events", None) is None:
        return None
    worker = _Precompute(results, _KernelIdle(shell), enabled)
    worker.start()
    return worker


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
STATIC_NOTE = (
    "<p class='wn-explorer-static'><b>Live explorer.</b> It needs a running Python "
    "kernel: open this chapter in Colab (the rocket button at the top of the page) or "
    "in Jupyter to use it. On this page, the slider figure on the same question works "
    "without one.</p>"
)


class Explorer(W.VBox):
    """The explorer's box. Displayed, it offers the live widget and, for pages without a
    kernel, ``text/html``: :data:`STATIC_NOTE` (Jupyter and Colab draw the widget; the
    book's HTML prefers the note, see ``_config.yml``). ``precompute``: whether its
    background thread computes neighbouring settings (settable); :meth:`close` also
    stops that thread."""

    _worker: _Precompute | None = None
    _precompute = False

    @property
    def precompute(self) -> bool:
        return self._precompute

    @precompute.setter
    def precompute(self, value: bool) -> None:
        self._precompute = _check_precompute(value)
        if self._worker is not None:
            with self._worker.wake:
                self._worker.enabled = self._precompute
                self._worker.wake.notify()

    def close(self) -> None:
        if self._worker is not None:
            self._worker.stop()
        super().close()

    if hasattr(W.VBox, "_repr_mimebundle_"):  # ipywidgets 8

        def _repr_mimebundle_(self, **kwargs):
            return {**super()._repr_mimebundle_(**kwargs), "text/html": STATIC_NOTE}
    else:  # ipywidgets 7 displays a widget through _ipython_display_

        def _ipython_display_(self, **kwargs):
            display(
                {
                    "text/plain": repr(self)[:110],
                    "text/html": STATIC_NOTE,
                    WIDGET_VIEW: {
                        "version_major": 2,
                        "version_minor": 0,
                        "model_id": self.model_id,
                    },
                },
                raw=True,
            )
            self._handle_displayed(**kwargs)


def display_data(obj) -> dict:
    """``obj`` as one ``display_data`` output (what :class:`ipywidgets.Output` shows).
    Objects with ``_repr_mimebundle_`` (plotly figures) give their bundle: their
    ``_ipython_display_`` would print elsewhere."""
    if callable(getattr(obj, "_repr_mimebundle_", None)):
        data, metadata = obj._repr_mimebundle_(), {}
        if isinstance(data, tuple):
            data, metadata = data
    else:
        from IPython.core.interactiveshell import InteractiveShell

        data, metadata = InteractiveShell.instance().display_formatter.format(obj)
    return {"output_type": "display_data", "data": data, "metadata": metadata}


def explorer(
    compute: Callable,
    controls: dict[str, W.ValueWidget],
    *,
    question: str,
    precompute: bool | None = None,
) -> Explorer:
    """A question, the ``controls`` and an output area showing ``compute(**values)`` (a
    plotly figure).

    Every change of a control redraws the figure in the same place. Results are kept per
    combination of values and, with ``precompute`` (default: :func:`precompute_default`,
    read now), the neighbouring settings are computed in the background while the kernel
    is idle (see the module docstring), so ``compute`` must be a function of its
    arguments only. While a setting is computed, the explorer is busy: the controls are
    disabled, ``status`` says "computing width m = 64 …" and the old figure is hidden,
    so a figure shown always belongs to the values its sliders show. The returned box
    keeps its parts as ``controls``, ``status`` and ``out`` (the output area).
    """
    out = W.Output()
    grid = {
        name: tuple(getattr(control, "_options_values", ()) or ()) or None
        for name, control in controls.items()
    }
    enabled = (
        precompute_default() if precompute is None else _check_precompute(precompute)
    )
    results = _Results(compute, grid)
    worker = _precompute(results, enabled)
    header = W.HTML(f"<p><b>Question.</b> {question}</p>")
    status = W.HTML("")
    box = Explorer([header, W.HBox(list(controls.values())), status, out])
    box._worker, box._precompute = worker, enabled
    box.add_class("wn-explorer")
    box.out, box.status, box.controls = out, status, controls

    def values_now() -> dict:
        return {name: control.value for name, control in controls.items()}

    def mark_ready(values=None):
        values = values or values_now()
        near, _ = results.plan(values)
        ready = results.cached(values) and all(results.cached(v) for v in near)
        (box.add_class if ready else box.remove_class)("wn-explorer-ready")

    def busy(values: dict | None) -> None:
        """Show (``values``) or clear (None) the busy state."""
        for control in controls.values():
            control.disabled = values is not None
        status.value = (
            ""
            if values is None
            else "<p><i>computing "
            + ", ".join(
                f"{controls[name].description} = {value}"
                for name, value in values.items()
            )
            + " …</i></p>"
        )
        out.layout.visibility = "hidden" if values is not None else "visible"
        (box.add_class if values is not None else box.remove_class)("wn-explorer-busy")

    def redraw(_=None):
        values = values_now()
        box.remove_class("wn-explorer-ready")
        if not results.cached(values):
            busy(values)
        if worker is not None:
            with worker.wake:
                worker.foreground += 1
        try:
            try:
                shown = display_data(results.get(values))
            except Exception:
                out.outputs = ()
                # in a kernel the traceback shows in the output area; elsewhere it
                # propagates
                with out:
                    raise
            else:
                out.outputs = (shown,)
        finally:
            busy(None)
            if worker is not None:
                with worker.wake:
                    worker.foreground -= 1
                worker.focus(values, mark_ready)
            mark_ready(values)

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    return box
