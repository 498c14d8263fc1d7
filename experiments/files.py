"""Result files, written the one way: whole or not at all (a temporary file beside the
target, renamed over it), JSON strict enough for any parser (no NaN or Infinity tokens)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


def strict_json(value: Any, indent: int | None = None) -> str:
    """JSON any parser reads: numpy numbers as plain ones, NaN and infinities as null."""

    def clean(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        if isinstance(v, (np.bool_, bool)):
            return bool(v)
        if isinstance(v, (int, np.integer)):
            return int(v)
        if isinstance(v, (float, np.floating)):
            return float(v) if np.isfinite(v) else None
        return v

    return json.dumps(clean(value), indent=indent, allow_nan=False, default=str)


def plain(value: Any) -> Any:
    """``value`` as a JSON file holds it (what reading it back gives)."""
    return json.loads(strict_json(value))


@contextmanager
def atomic(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix, so writers that go by the
    suffix pick the right format); on success it replaces ``path``, on failure it goes."""
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> Path:
    with atomic(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def write_json(path: Path, data: Any) -> Path:
    """Strict JSON, indented: infinities (no budget) and NaN as null."""
    return write_text(path, strict_json(data, indent=2))


def write_table(table: Any, path: Path, index: bool = False) -> Path:
    """A pandas DataFrame as Parquet or CSV, by the file's suffix."""
    with atomic(path) as tmp:
        if path.suffix == ".parquet":
            table.to_parquet(tmp, index=index)
        else:
            table.to_csv(tmp, index=index)
    return path


def check_writable(folder: Path, key: str) -> None:
    """``folder``, or the nearest existing folder above it, is a folder where a file can be
    made (tried, and removed at once: permission bits do not tell for root): results can be
    written there once they are ready. Nothing stays behind."""
    import tempfile

    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        with tempfile.TemporaryFile(dir=existing):
            return
    except OSError:
        raise ValueError(
            f"{key}: {str(folder)!r} cannot be created ({str(existing)!r} is not a writable "
            "folder); allowed: a writable folder"
        ) from None


def read_json(path: Path, allowed: str) -> Any:
    """A JSON file's content; an unreadable or corrupt file is a ValueError naming it."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: unreadable ({err}); allowed: {allowed}") from None


def safe_name(name: str) -> str:
    """An uploaded file's name as a file in a run's folder: its last part, every character
    but letters, digits, ``_``, ``.`` and ``-`` replaced by ``_`` (``log`` if none is left)."""
    import re

    return re.sub(r"[^A-Za-z0-9_.-]", "_", Path(name).name) or "log"


def table_columns(source: Path | bytes, suffix: str) -> list[str]:
    """The column names of a Parquet (``suffix`` ``.parquet``) or CSV table, from a path or
    a file's bytes, without reading its rows (the readers' own errors propagate)."""
    import io

    import pandas as pd

    data = io.BytesIO(source) if isinstance(source, bytes) else source
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(data).names)
    return list(pd.read_csv(data, nrows=0).columns)


def read_table(path: Path, allowed: str) -> Any:
    """A Parquet or CSV table; an unreadable or corrupt file is a ValueError naming it."""
    import pandas as pd

    try:
        return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: unreadable ({err}); allowed: {allowed}") from None


@contextmanager
def exclusive(path: Path, refused: str) -> Iterator[Any]:
    """Hold an exclusive lock on ``path`` (made if missing) for this process; another
    process holding it already: ValueError(``refused``). Yields the open file ("a+")."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(refused) from None
        try:
            yield handle
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
