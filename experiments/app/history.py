"""Past runs: every results folder under ``outputs/``, whoever started it (the CLI or the
app), recognised by the file each command writes last or alone."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

MARKS = {
    "leaderboard.csv": "benchmark",
    "robustness.csv": "stress",
    "plan.json": "plan",
    "calibration.json": "calibration",
    "estimates.csv": "ope",
    "scores.parquet": "score",
}
"""A file in a folder -> the kind of run that wrote it (checked in this order)."""
DEPTH = 4  # outputs/app/<session>/<run>/ is the deepest the commands write


@dataclass(frozen=True, kw_only=True)
class PastRun:
    folder: Path
    kind: str
    finished: datetime
    headline: str  # one line: the winner, the recommendation or the fit

    @property
    def label(self) -> str:
        return f"{self.finished:%Y-%m-%d %H:%M}  {self.kind:<11} {self.folder}  {self.headline}"


def past_runs(out: Path, limit: int = 200) -> list[PastRun]:
    """Finished runs under ``out``, newest first (at most ``limit``)."""
    found = []
    for folder in _folders(out, DEPTH):
        kind = next((k for mark, k in MARKS.items() if (folder / mark).exists()), None)
        if kind is None or not _done(folder, kind):
            continue
        done = folder / ("summary.json" if (folder / "summary.json").exists() else _mark(kind))
        found.append(
            PastRun(
                folder=folder,
                kind=kind,
                finished=datetime.fromtimestamp(done.stat().st_mtime),
                headline=_headline(folder, kind),
            )
        )
    found.sort(key=lambda r: r.finished, reverse=True)
    return found[:limit]


def _folders(root: Path, depth: int) -> list[Path]:
    if depth < 0 or not root.is_dir():
        return []
    out = [root]
    for child in sorted(root.iterdir()):
        if child.is_dir() and not child.name.startswith("."):
            out += _folders(child, depth - 1)
    return out


def _mark(kind: str) -> str:
    return next(m for m, k in MARKS.items() if k == kind)


def _done(folder: Path, kind: str) -> bool:
    """A benchmark or stress run is done once its summary.json is written (its last file),
    an ope or score run once its report.html is."""
    if kind in ("ope", "score"):
        return (folder / "report.html").exists()
    return kind in ("plan", "calibration") or (folder / "summary.json").exists()


def _headline(folder: Path, kind: str) -> str:
    try:
        if kind == "benchmark":
            summary = json.loads((folder / "summary.json").read_text())
            agents = summary.get("agents", {})
            best = max(agents, key=lambda a: agents[a]["incremental_profit"]["mean"], default="")
            if best:
                gain = agents[best]["incremental_profit"]["mean"]
                return f"best: {best} {gain:+,.0f}"
        if kind == "stress":
            summary = json.loads((folder / "summary.json").read_text())
            return str(summary.get("recommendation", "")).replace("`", "")[:120]
        if kind == "plan":
            plan = json.loads((folder / "plan.json").read_text())
            return f"{plan.get('policy', '?')} vs {plan.get('against', '?')}"
        if kind == "ope":
            summary = json.loads((folder / "summary.json").read_text())
            return ", ".join(summary.get("policies", {}))[:120]
        if kind == "score":
            summary = json.loads((folder / "summary.json").read_text())
            source = summary.get("source", "simulated")
            whose = "simulated" if source == "simulated" else f"of {Path(source).name}"
            return f"{summary.get('customers', 0):,} customers {whose} ({summary.get('scenario')})"
    except (OSError, ValueError, KeyError, TypeError):
        return "(unreadable summary)"
    return ""
