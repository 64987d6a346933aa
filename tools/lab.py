"""A real JupyterLab in headless Chromium, for the live explorers (``tests/browser/test_live_explorers.py`` and
``bench/explorers.py``).

:class:`Lab` starts ``jupyter lab`` with this Python (so its ``python3`` kernel is this virtual environment)
on 127.0.0.1 only, at a free port, with a random token, in a temporary root holding *copies* of the chapters
(the book's notebooks are never touched), with fresh Jupyter config/data/settings/workspace directories (no
user setting changes what runs), ``WNLIB_PROFILE=quick`` and ``WNLIB_RESULTS`` at the book's ``book/results`` (the
copies are not in ``book/``, where a chapter finds the stored results by itself); leaving the ``with`` block (also on an error)
shuts the kernels down and kills the server's process group. :class:`Chapter` drives one open notebook:
``Run All Cells`` through JupyterLab's command registry (the app is exposed as ``window.jupyterapp``), then
the explorer (the ``.wn-explorer`` box of :func:`wnlib.book.widgets.explorer`): its selection sliders moved
with the arrow keys on the focused slider handle (noUiSlider), its figure read from the plotly div's
``_fullData`` (trace types, names and x/y arrays: the plotted data, not only the container).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK = Path(os.environ.get("BOOK_ROOT", ROOT)) / "book"   # BOOK_ROOT: as in tests/browser/test_pages.py
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
RUN_ALL = "notebook:run-all-cells"


def explorer_notebooks(book: Path = BOOK) -> list[Path]:
    """The chapters with a live explorer: a code cell that calls ``explorer(``."""
    found = []
    for path in sorted(book.glob("*.ipynb")):
        cells = json.loads(path.read_text()).get("cells", [])
        if any(c.get("cell_type") == "code" and "explorer(" in "".join(c.get("source", "")) for c in cells):
            found.append(path)
    return found


def chromium() -> str | None:
    """Debian's Chromium (``make chromium``), or another one on the PATH."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """``with Lab(notebooks) as lab:`` a JupyterLab server on loopback serving copies of ``notebooks``."""

    def __init__(self, notebooks: list[Path], *, env: dict[str, str] | None = None, start_timeout: float = 180.0):
        self.notebooks, self.extra_env, self.start_timeout = list(notebooks), dict(env or {}), start_timeout
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Lab:
        self.tmp = Path(tempfile.mkdtemp(prefix="wn-lab-"))
        try:
            self._start()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def _start(self) -> None:
        self.root = self.tmp / "root"
        self.root.mkdir()
        for path in self.notebooks:
            shutil.copy2(path, self.root / path.name)
        self.port, self.token = _free_port(), secrets.token_hex(24)
        self.url = f"http://127.0.0.1:{self.port}"
        dirs = {name: self.tmp / name for name in ("config", "data", "runtime", "settings", "workspaces")}
        for d in dirs.values():
            d.mkdir()
        # no news toast, no update check: nothing asks for attention or leaves the machine
        # every cell in the DOM (no windowing), so outputs far from the viewport are there to read
        overrides = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
                     "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"}}
        lab_settings = dirs["data"] / "lab" / "settings"
        lab_settings.mkdir(parents=True)
        (lab_settings / "overrides.json").write_text(json.dumps(overrides))
        env = {**os.environ, "WNLIB_PROFILE": "quick", "JUPYTER_CONFIG_DIR": str(dirs["config"]),
               "WNLIB_RESULTS": os.environ.get("WNLIB_RESULTS") or str(BOOK / "results"),
               "JUPYTER_DATA_DIR": str(dirs["data"]), "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
               "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
               "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]), "JUPYTER_PREFER_ENV_PATH": "1",
               "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        env.pop("JUPYTER_PATH", None)
        env.update(self.extra_env)
        self.log = open(self.tmp / "server.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
             "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
             f"--ServerApp.root_dir={self.root}", "--LabApp.expose_app_in_browser=True",
             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
             "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False",
             "--ServerApp.open_browser=False"] + (["--allow-root"] if os.geteuid() == 0 else []),
            cwd=self.root, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}:\n{self.server_log()}")
            try:
                self.api("GET", "/api/status")
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"jupyter lab did not answer in {self.start_timeout} s:\n{self.server_log()}")
                time.sleep(0.5)

    def api(self, method: str, path: str):
        """A call to the server's REST API (with the token); the decoded JSON answer or None."""
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def server_log(self, tail: int = 4000) -> str:
        path = self.tmp / "server.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}"

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:  # kernels first (they run in sessions of their own), then the server's process group
                for kernel in self.api("GET", "/api/kernels") or []:
                    self.api("DELETE", f"/api/kernels/{kernel['id']}")
            except Exception:
                pass
            for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if getattr(self, "log", None) is not None:
            self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


# JavaScript run in the page (the notebook panel is kept as window.__wnPanel once opened)
_PANEL = "window.__wnPanel"
_STATE = """() => {
  const panel = window.__wnPanel;
  const cells = panel.content.widgets.filter(c => c.model.type === 'code' && c.model.sharedModel.getSource().trim());
  const bad = [];
  for (const c of cells) {
    for (let i = 0; i < c.model.outputs.length; i++) {
      const o = c.model.outputs.get(i).toJSON();
      if (o.output_type === 'error') bad.push(`cell [${c.model.executionCount}]: ${o.ename}: ${o.evalue}`);
      if (o.output_type === 'stream' && o.name === 'stderr') bad.push(`cell [${c.model.executionCount}] stderr: ${o.text}`);
    }
  }
  for (const el of document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
    bad.push('shown: ' + el.innerText.slice(0, 2000));
  return {total: cells.length, pending: cells.filter(c => c.model.executionCount === null).length,
          status: panel.sessionContext.session && panel.sessionContext.session.kernel
                  ? panel.sessionContext.session.kernel.status : 'none', errors: [...new Set(bad)]};
}"""
# the explorer's figure: its traces' names and x/y arrays once plotly has drawn it (else null)
FIGURE = """() => {
  const el = document.querySelector('.wn-explorer .widget-output .js-plotly-plot');
  if (!el || !el._fullData || !el._fullData.length || !el.querySelector('.main-svg')) return null;
  const arr = a => a == null ? null : Array.from(a, v => (typeof v === 'number' ? +v.toPrecision(10) : v));
  return JSON.stringify(el._fullData.map(t => [t.type, t.name, arr(t.x), arr(t.y)]));
}"""
_CHANGED = f"(before) => {{ const now = ({FIGURE})(); return now !== null && now !== before; }}"
_CONTROLS = """() => Array.from(document.querySelectorAll('.wn-explorer .widget-slider')).map(s => ({
  label: s.querySelector('.widget-label').textContent.trim(),
  value: s.querySelector('.widget-readout').textContent.trim(),
  index: Math.round(+s.querySelector('.noUi-handle').getAttribute('aria-valuenow')),
  last: Math.round(+s.querySelector('.noUi-handle').getAttribute('aria-valuemax'))}))"""
_EXECUTE = """async (code) => {
  const kernel = window.__wnPanel.sessionContext.session.kernel;
  const future = kernel.requestExecute({code, silent: false, store_history: false});
  let out = '';
  future.onIOPub = msg => {
    if (msg.header.msg_type === 'stream') out += msg.content.text;
    if (msg.header.msg_type === 'error') out += `${msg.content.ename}: ${msg.content.evalue}`;
  };
  await future.done;
  return out;
}"""
KNOWN_HARMLESS = ("Disabling terminals plugin",)  # we start the server without terminals


class Chapter:
    """One notebook open in JupyterLab in a Chromium page: run it, then read and move its explorer."""

    def __init__(self, lab: Lab, browser, name: str):
        self.lab, self.name = lab, name
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.console: list[str] = []
        self.page.on("pageerror", lambda exc: self.console.append(f"pageerror: {exc}"))
        self.page.on("console", lambda msg: self.console.append(f"console {msg.type}: {msg.text}")
                     if msg.type == "error" and not any(k in msg.text for k in KNOWN_HARMLESS) else None)
        # the machine may be offline and the lab must not need the network: only the server is reachable
        self.page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(lab.url)
                        else route.abort())

    def open(self, timeout: float = 180.0) -> None:
        """Load the notebook and wait for its kernel (the venv's ``python3``) to be idle."""
        self.page.goto(self.lab.notebook_url(self.name), wait_until="load")
        self.page.wait_for_function(
            """(name) => {
              const app = window.jupyterapp;
              if (!app || !app.shell) return false;
              const panel = Array.from(app.shell.widgets('main')).find(w => w.context && w.context.path === name);
              const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
              if (!kernel || kernel.status !== 'idle') return false;
              window.__wnPanel = panel;
              return true;
            }""", arg=self.name, timeout=timeout * 1000, polling=500)

    def state(self) -> dict:
        return self.page.evaluate(_STATE)

    def run_all(self, timeout: float = 600.0) -> float:
        """Clear the stored outputs, then JupyterLab's ``Run All Cells``; seconds until every code cell ran.

        Fails at the first error output or stderr text, or when the kernel stays idle with cells left."""
        self.page.evaluate(f"{_PANEL}.content.activate()")
        self.page.evaluate("jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
        start = time.monotonic()
        self.page.evaluate(f"jupyterapp.commands.execute({json.dumps(RUN_ALL)})")
        stalled = None
        while True:
            state = self.state()
            if state["errors"]:
                raise AssertionError(f"{self.name}: error output while running all cells:\n"
                                     + "\n".join(state["errors"]))
            if state["pending"] == 0 and state["status"] == "idle":
                return time.monotonic() - start
            if state["status"] == "idle":
                stalled = stalled or time.monotonic()
                if time.monotonic() - stalled > 20:
                    raise AssertionError(f"{self.name}: the kernel is idle with {state['pending']} of "
                                         f"{state['total']} code cells not run")
            else:
                stalled = None
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"{self.name}: {state['pending']} of {state['total']} code cells still not run "
                                   f"after {timeout:.0f} s (kernel {state['status']})")
            time.sleep(1.0)

    def figure(self, timeout: float = 120.0) -> str:
        """The explorer's drawn figure (see ``FIGURE``), waiting for it."""
        count = self.page.locator(".wn-explorer").count()
        if count != 1:
            raise AssertionError(f"{self.name}: {count} explorers on the page, expected 1")
        self.page.locator(".wn-explorer").scroll_into_view_if_needed()
        self.page.wait_for_function(FIGURE, timeout=timeout * 1000, polling=200)
        return self.page.evaluate(FIGURE)

    def controls(self) -> list[dict]:
        """The explorer's sliders: label, shown value, index and last index."""
        return self.page.evaluate(_CONTROLS)

    def move(self, control: int, step: int, timeout: float = 300.0) -> tuple[float, str]:
        """Press the arrow key ``step`` (+1 right, -1 left) on slider ``control``'s focused handle; seconds until
        the explorer's figure is drawn with other data, and that figure."""
        before = self.page.evaluate(FIGURE)
        handle = self.page.locator(".wn-explorer .widget-slider .noUi-handle").nth(control)
        handle.focus()
        start = time.perf_counter()
        self.page.keyboard.press("ArrowRight" if step > 0 else "ArrowLeft")
        try:
            self.page.wait_for_function(_CHANGED, arg=before, timeout=timeout * 1000, polling="raf")
        except Exception as err:
            raise AssertionError(f"{self.name}: moving {self.controls()[control]['label']} by {step} did not "
                                 f"change the figure's data within {timeout:.0f} s "
                                 f"(errors: {self.errors()})") from err
        return time.perf_counter() - start, self.page.evaluate(FIGURE)

    def ready(self) -> bool:
        """Every one-step move of the explorer is computed (``wn-explorer-ready``)."""
        return self.page.evaluate("document.querySelector('.wn-explorer').classList.contains('wn-explorer-ready')")

    def wait_ready(self, timeout: float) -> bool:
        try:
            self.page.wait_for_function(
                "document.querySelector('.wn-explorer').classList.contains('wn-explorer-ready')",
                timeout=timeout * 1000, polling=200)
            return True
        except Exception:
            return False

    def execute(self, code: str) -> str:
        """Run ``code`` in the notebook's kernel (not in a cell); its printed output."""
        return self.page.evaluate(_EXECUTE, code)

    def errors(self) -> list[str]:
        """Page errors, console errors, error outputs and stderr text anywhere in the notebook."""
        return self.console + self.state()["errors"]

    def close(self) -> None:
        self.page.close()
