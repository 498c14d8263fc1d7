"""The one plot and HTML kit every report and plot uses: matplotlib without a display
(imported on first use), figures saved whole, PNG images embedded in one self-contained
HTML page with the shared stylesheet."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

from experiments.files import atomic

CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;padding:0 1em}
table{border-collapse:collapse;font-size:14px;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
td:nth-child(2),th:nth-child(2){text-align:left}
tr.reference{background:#f1ebf7}
img{max-width:100%;margin:1em 0;border:1px solid #eee}
.finding{background:#f4f8fb;border-left:4px solid #1f78b4;padding:.6em 1em;margin:.4em 0}
dt{font-weight:600}
"""


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, path: Path, dpi: int = 110) -> Path:
    """Lay out, write whole (nothing clipped), close."""
    fig.tight_layout()
    with atomic(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)
    return path


def img(path: Path) -> str:
    """A PNG embedded in the page (the report can be mailed as one file)."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def page(title: str, body: list[str]) -> str:
    """One self-contained HTML page."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>"
    )


def money(value: float | None) -> str:
    """An amount as every report shows it: signed, thousands separated, whole units; "-"
    when there is none (None or not finite)."""
    return "-" if value is None or not math.isfinite(value) else f"{value:+,.0f}"
