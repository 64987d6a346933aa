"""The headless Chromium every browser test shares (Debian's package: ``make chromium``)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tools/ is a folder of the repository, not installed
from tools.lab import CHROMIUM_ARGS, chromium  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    exe = chromium()
    if exe is None:
        pytest.fail("no Chromium found: install Debian's `chromium` package (make browser does)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()
