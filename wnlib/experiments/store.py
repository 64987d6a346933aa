"""Results store: one folder per run, keyed by the hash of the run's configuration.

Explained in: README.md ("Reproducing the paper's experiments") and
book/05_experiments.ipynb.

Layout under ``root``::

    runs/<key>/history.csv     tidy table, one row per tracked step (written first)
    runs/<key>/meta.json       what produced it, with the SHA-256 of history.csv and of
                               itself (written last: marks "done")
    runs/<key>/checkpoint.pt   latest checkpoint while the run is unfinished (removed
                               when it finishes)

Every write is atomic (temporary file in the same folder, ``fsync``, ``os.replace``), so
a run killed at any moment leaves either the old file or the new one (and perhaps a
``.*.tmp`` file, removed by the next write to the folder). A file that is truncated,
corrupted or edited (checksum mismatch, unparsable, stored under another key) is
reported with a warning naming it, deleted, and recomputed; it is never used.
``meta.json`` files written before ``meta_sha256`` existed are checked through their
history checksum and key only. Checkpoints are ``torch.save`` files of tensors and plain
types behind a SHA-256 header line, read back only with
``torch.load(..., weights_only=True)``.

Only regular files are read, each up to a size limit (a link to ``/dev/zero`` or a FIFO
is damage, not a hang); keys are plain names (no ``/`` or ``..``), and a run folder that
is a symbolic link, or resolves outside ``root``, is refused: nothing outside ``root``
is written or deleted. Reading finished runs writes nothing, so a read-only copy of a
store can be read.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import shutil
import stat
import tempfile
import warnings
from pathlib import Path

import pandas as pd
import torch

log = logging.getLogger("wnlib.store")

HISTORY, META, CHECKPOINT = "history.csv", "meta.json", "checkpoint.pt"
SIZE_LIMITS = {META: 1 << 20, HISTORY: 1 << 30, CHECKPOINT: 1 << 34}
"""Largest file read back, in bytes (1 MiB, 1 GiB, 16 GiB): a larger one is damage."""
_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


class StoreWriteError(OSError):
    """The results folder cannot be written (not a folder, read-only, full disk)."""


class UnsafeStoreError(OSError):
    """A run folder is a symbolic link or resolves outside the store: refused,
    nothing is read or written."""


class CorruptFileWarning(UserWarning):
    """A stored result or checkpoint failed its integrity check; it was discarded and
    will be recomputed."""


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temporary file in the same folder,
    fsync, ``os.replace``."""
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
    _remove(path)


def _remove(path: Path) -> None:
    """Delete ``path`` if it is there and can be deleted (a read-only store keeps
    it)."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.is_symlink() or path.exists():
            path.unlink()
    except OSError as err:
        log.warning("cannot remove %s: %s", path, err.strerror or err)


def read_regular(path: Path, limit: int) -> bytes | None:
    """The bytes of ``path`` if it is a regular file (not a link, FIFO or device) of at
    most ``limit`` bytes; ``None`` if absent. Raises ``OSError`` for anything else,
    without blocking or reading past ``limit``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError:
        if os.path.islink(path):
            raise OSError(
                f"{path.name} is a symbolic link, not a regular file"
            ) from None
        raise
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path.name} is not a regular file")
        if info.st_size > limit:
            raise OSError(
                f"{path.name} has {info.st_size} bytes, more than the {limit} a stored "
                f"file may have"
            )
        data = f.read(limit + 1)
    if len(data) > limit:
        raise OSError(f"{path.name} grew past {limit} bytes while read")
    return data


def check_key(key) -> str:
    """Return ``key`` if it is a plain folder name (letters, digits, ``_.-``; no
    ``/``, ``..``), else raise."""
    if not isinstance(key, str) or not _KEY.fullmatch(key) or ".." in key:
        raise ValueError(
            f"key must be a plain name of 1-128 letters, digits, '_', '.', '-' (no "
            f"'/', no '..', not starting with '.' or '-'), got {key!r}"
        )
    return key


def meta_checksum(meta: dict) -> str:
    """SHA-256 of ``meta`` (without its own ``meta_sha256``) as sorted JSON."""
    return sha256(
        json.dumps(
            {k: v for k, v in meta.items() if k != "meta_sha256"}, sort_keys=True
        ).encode()
    )


def results_dir(out) -> Path:
    """``out`` (a str or path) as a folder path with ``~`` expanded; an empty one is
    refused."""
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(
            f"out must be a folder path (str or os.PathLike), got {type(out).__name__}"
        )
    text = os.fspath(out)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"out must be a non-empty folder path, got {text!r}")
    return Path(text).expanduser()


def _file_mode() -> int:
    """``0o666`` less the process umask: what ``open(path, "w")`` would give (mkstemp
    alone gives 0o600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def history_to_csv(frame: pd.DataFrame) -> bytes:
    """The bytes stored for a history table (floats written with full precision, so a
    reload is exact)."""
    return frame.to_csv(index=False, float_format="%.17g").encode()


class Store:
    """Runs stored under ``root/runs/<key>``; see the module docstring for the layout
    and guarantees."""

    def __init__(self, root: str | os.PathLike):
        self.root = results_dir(root)

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    def run_dir(self, key: str) -> Path:
        """``root/runs/<key>``; raises if ``key`` is not a plain name or the folder
        is a link or leaves ``root``."""
        folder = self.root / "runs" / check_key(key)
        if folder.is_symlink() or (folder.parent.is_symlink()):
            link = folder if folder.is_symlink() else folder.parent
            raise UnsafeStoreError(
                f"{link} is a symbolic link (to {os.readlink(link)}); the store "
                "refuses linked run folders: replace the link by a folder"
            )
        if os.path.realpath(folder) != os.path.join(
            os.path.realpath(self.root), "runs", key
        ):
            raise UnsafeStoreError(
                f"{folder} resolves to {os.path.realpath(folder)}, outside {self.root}"
            )
        return folder

    def clean_temporaries(self, key: str) -> None:
        """Remove the ``.*.tmp`` files an interrupted write left in the run's folder."""
        folder = self.run_dir(key)
        for tmp in folder.glob(".*.tmp") if folder.is_dir() else ():
            if tmp.is_file() and not tmp.is_symlink():
                _remove(tmp)

    # ---- finished results ------------------------------------------------------------
    def save(
        self, key: str, history: pd.DataFrame, meta: dict
    ) -> tuple[pd.DataFrame, dict]:
        """Store a finished run: ``history.csv``, then ``meta.json`` with its checksum;
        drop the checkpoint.

        Returns ``(history, meta)`` exactly as :meth:`load` would read them back (parsed
        from the bytes written).
        """
        folder = self.run_dir(key)
        data = history_to_csv(history)
        atomic_write(folder / HISTORY, data)
        meta = dict(meta, key=key, history_sha256=sha256(data))
        meta["meta_sha256"] = meta_checksum(meta)
        text = json.dumps(meta, indent=1, sort_keys=True)
        atomic_write(folder / META, text.encode())
        _remove(folder / CHECKPOINT)
        self.clean_temporaries(key)
        return pd.read_csv(io.BytesIO(data)), json.loads(text)

    def load(self, key: str) -> tuple[pd.DataFrame, dict] | None:
        """``(history, meta)`` of a finished run, or ``None`` if absent or corrupted
        (reported, then deleted)."""
        folder = self.run_dir(key)
        meta_path, history_path = folder / META, folder / HISTORY
        if not (meta_path.exists() or meta_path.is_symlink()):
            return None
        try:
            raw = read_regular(meta_path, SIZE_LIMITS[META])
            if raw is None:
                return None
            meta = json.loads(raw.decode())
            expected = meta["history_sha256"]
        except (
            OSError,
            ValueError,
            KeyError,
            TypeError,
            UnicodeDecodeError,
            RecursionError,
        ) as err:
            _discard(meta_path, f"unreadable metadata ({type(err).__name__}: {err})")
            return None
        why = None
        if meta.get("key") != key:
            why = (
                f"it is the result of run {meta.get('key')!r}, stored under key {key!r}"
            )
        elif "meta_sha256" in meta and meta["meta_sha256"] != meta_checksum(meta):
            why = "checksum mismatch (edited or corrupted)"
        if why is not None:
            _discard(meta_path, why)
            return None
        try:
            data = read_regular(history_path, SIZE_LIMITS[HISTORY])
            if data is None:
                raise FileNotFoundError(history_path.name)
        except OSError as err:
            _discard(
                meta_path,
                f"its results file {history_path.name} cannot be read "
                f"({type(err).__name__}: {err})",
            )
            if history_path.is_dir() or history_path.is_symlink():
                _discard(history_path, "not a regular file")
            return None
        if sha256(data) != expected:
            _discard(
                history_path, "checksum mismatch with meta.json (truncated or modified)"
            )
            _remove(meta_path)
            return None
        try:
            frame = pd.read_csv(io.BytesIO(data))
        except (ValueError, UnicodeDecodeError) as err:
            _discard(history_path, f"unparsable table ({type(err).__name__}: {err})")
            _remove(meta_path)
            return None
        if (
            folder / CHECKPOINT
        ).exists():  # left behind if a run was killed right after finishing
            _remove(folder / CHECKPOINT)
        self.clean_temporaries(key)
        return frame, meta

    def discard(self, key: str, why: str) -> None:
        """Report and remove the stored result of run ``key`` (it does not describe
        that run)."""
        _discard(self.run_dir(key) / META, why)

    def check_writable(self) -> None:
        """Raise one error naming ``root`` if results cannot be written there (not a
        folder, read-only)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(
                dir=self.root, prefix=".write-test-", delete=True
            )
            probe.close()
        except OSError as err:
            raise StoreWriteError(
                f"cannot write results under {self.root}: {err.strerror or err}"
            ) from None

    def is_done(self, key: str) -> bool:
        """Whether a finished run is stored (cheap: does not verify the checksum)."""
        return (self.run_dir(key) / META).is_file()

    # ---- checkpoints -----------------------------------------------------------------
    def save_checkpoint(self, key: str, state: dict) -> None:
        """Atomically store ``state`` (tensors and plain types) as ``<sha256>\\n`` +
        ``torch.save`` bytes."""
        buffer = io.BytesIO()
        torch.save(state, buffer)
        payload = buffer.getvalue()
        atomic_write(
            self.run_dir(key) / CHECKPOINT, sha256(payload).encode() + b"\n" + payload
        )

    def load_checkpoint(self, key: str) -> dict | None:
        """The latest checkpoint of an unfinished run, or ``None`` (absent, or
        corrupted: reported, deleted)."""
        path = self.run_dir(key) / CHECKPOINT
        try:
            raw = read_regular(path, SIZE_LIMITS[CHECKPOINT])
        except OSError as err:
            _discard(path, f"unreadable checkpoint ({type(err).__name__}: {err})")
            return None
        if raw is None:
            return None
        digest, _, payload = raw.partition(b"\n")
        if sha256(payload).encode() != digest:
            _discard(path, "checksum mismatch (truncated or modified)")
            return None
        try:
            return torch.load(io.BytesIO(payload), weights_only=True)
        # any unpickling failure means the file is unusable
        except Exception as err:  # noqa: BLE001
            _discard(path, f"unreadable checkpoint ({type(err).__name__}: {err})")
            return None

    def discard_checkpoint(self, key: str, why: str) -> None:
        """Report and remove the checkpoint of run ``key`` (e.g. it belongs to
        another run)."""
        _discard(self.run_dir(key) / CHECKPOINT, why)
