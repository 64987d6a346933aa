"""Results store: one folder per run, keyed by the hash of the run's configuration.

Explained in: README.md ("Reproducing the paper's experiments") and book/05_experiments.ipynb.

Layout under ``root``::

    runs/<key>/history.csv     tidy table, one row per tracked step (written first)
    runs/<key>/meta.json       what produced it, with the SHA-256 of history.csv (written last: marks "done")
    runs/<key>/checkpoint.pt   latest checkpoint while the run is unfinished (removed when it finishes)

Every write is atomic (temporary file in the same folder, ``fsync``, ``os.replace``), so a run killed at any
moment leaves either the old file or the new one. A file that is truncated or corrupted anyway (checksum
mismatch, unparsable) is reported with a warning naming it, deleted, and recomputed; it is never used.
Checkpoints are ``torch.save`` files of tensors and plain types behind a SHA-256 header line, read back only
with ``torch.load(..., weights_only=True)``.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import pandas as pd
import torch

log = logging.getLogger("wnlib.store")

HISTORY, META, CHECKPOINT = "history.csv", "meta.json", "checkpoint.pt"


class StoreWriteError(OSError):
    """The results folder cannot be written (not a folder, read-only, full disk)."""


class CorruptFileWarning(UserWarning):
    """A stored result or checkpoint failed its integrity check; it was discarded and will be recomputed."""


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temporary file in the same folder, fsync, ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _file_mode())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:  # some filesystems do not allow fsync on a folder
        pass


def _discard(path: Path, why: str) -> None:
    message = f"discarding {path}: {why}; it will be recomputed"
    warnings.warn(message, CorruptFileWarning, stacklevel=3)
    log.warning(message)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _file_mode() -> int:
    """``0o666`` less the process umask: what ``open(path, "w")`` would give (mkstemp alone gives 0o600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def history_to_csv(frame: pd.DataFrame) -> bytes:
    """The bytes stored for a history table (floats written with full precision, so a reload is exact)."""
    return frame.to_csv(index=False, float_format="%.17g").encode()


class Store:
    """Runs stored under ``root/runs/<key>``; see the module docstring for the layout and guarantees."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    def run_dir(self, key: str) -> Path:
        return self.root / "runs" / key

    # ---- finished results -------------------------------------------------------------------------------
    def save(self, key: str, history: pd.DataFrame, meta: dict) -> tuple[pd.DataFrame, dict]:
        """Store a finished run: ``history.csv``, then ``meta.json`` with its checksum; drop the checkpoint.

        Returns ``(history, meta)`` exactly as :meth:`load` would read them back (parsed from the bytes written).
        """
        folder = self.run_dir(key)
        data = history_to_csv(history)
        atomic_write(folder / HISTORY, data)
        meta = dict(meta, key=key, history_sha256=sha256(data))
        text = json.dumps(meta, indent=1, sort_keys=True)
        atomic_write(folder / META, text.encode())
        (folder / CHECKPOINT).unlink(missing_ok=True)
        return pd.read_csv(io.BytesIO(data)), json.loads(text)

    def load(self, key: str) -> tuple[pd.DataFrame, dict] | None:
        """``(history, meta)`` of a finished run, or ``None`` if absent or corrupted (reported, then deleted)."""
        folder = self.run_dir(key)
        meta_path, history_path = folder / META, folder / HISTORY
        if not meta_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text())
            expected = meta["history_sha256"]
        except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as err:
            _discard(meta_path, f"unreadable metadata ({type(err).__name__}: {err})")
            return None
        try:
            data = history_path.read_bytes()
        except OSError as err:
            _discard(meta_path, f"its results file {history_path.name} cannot be read ({type(err).__name__})")
            if history_path.is_dir():
                _discard(history_path, "not a file")
            return None
        if sha256(data) != expected:
            _discard(history_path, "checksum mismatch with meta.json (truncated or modified)")
            meta_path.unlink(missing_ok=True)
            return None
        try:
            frame = pd.read_csv(io.BytesIO(data))
        except (ValueError, UnicodeDecodeError) as err:
            _discard(history_path, f"unparsable table ({type(err).__name__}: {err})")
            meta_path.unlink(missing_ok=True)
            return None
        (folder / CHECKPOINT).unlink(missing_ok=True)  # left behind if a run was killed right after finishing
        return frame, meta

    def check_writable(self) -> None:
        """Raise one error naming ``root`` if results cannot be written there (not a folder, read-only)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=self.root, prefix=".write-test-", delete=True)
            probe.close()
        except OSError as err:
            raise StoreWriteError(f"cannot write results under {self.root}: {err.strerror or err}") from None

    def is_done(self, key: str) -> bool:
        """Whether a finished run is stored (cheap: does not verify the checksum)."""
        return (self.run_dir(key) / META).exists()

    # ---- checkpoints ------------------------------------------------------------------------------------
    def save_checkpoint(self, key: str, state: dict) -> None:
        """Atomically store ``state`` (tensors and plain types) as ``<sha256>\\n`` + ``torch.save`` bytes."""
        buffer = io.BytesIO()
        torch.save(state, buffer)
        payload = buffer.getvalue()
        atomic_write(self.run_dir(key) / CHECKPOINT, sha256(payload).encode() + b"\n" + payload)

    def load_checkpoint(self, key: str) -> dict | None:
        """The latest checkpoint of an unfinished run, or ``None`` (absent, or corrupted: reported, deleted)."""
        path = self.run_dir(key) / CHECKPOINT
        if not path.exists():
            return None
        try:
            raw = path.read_bytes()
        except OSError as err:
            _discard(path, f"unreadable checkpoint ({type(err).__name__})")
            return None
        digest, _, payload = raw.partition(b"\n")
        if sha256(payload).encode() != digest:
            _discard(path, "checksum mismatch (truncated or modified)")
            return None
        try:
            return torch.load(io.BytesIO(payload), weights_only=True)
        except Exception as err:  # noqa: BLE001 - any unpickling failure means the file is unusable
            _discard(path, f"unreadable checkpoint ({type(err).__name__}: {err})")
            return None

    def discard_checkpoint(self, key: str, why: str) -> None:
        """Report and remove the checkpoint of run ``key`` (e.g. it belongs to another run)."""
        _discard(self.run_dir(key) / CHECKPOINT, why)
