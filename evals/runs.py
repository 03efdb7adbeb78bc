"""The run folder (metrics.json, per_query.jsonl), comparing two runs, and `--fail-under` checks.

metrics.json holds a flat `summary` of headline numbers (names such as `hits@10` or `pass_rate`)
beside nested detail blocks. A metric is named either by its summary name or by its dotted path
in the file (`retrieval.temporal_query.mrr@10`); `flatten` lists every name a run has.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from rag.errors import ConfigError, NewsragError

METRICS = "metrics.json"
PER_QUERY = "per_query.jsonl"


def read_jsonl(path: Path, fields: tuple[str, ...], what: str) -> list[dict]:
    """The rows of a JSONL file, each holding `fields`; a row that is not says where ("FILE:LINE: not <what>
    (needs …)")."""
    if not Path(path).is_file():
        raise ConfigError(f"{path} not found: expected a JSONL file, each line {what}")
    rows = []
    for i, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            for name in fields:
                row[name]  # noqa: B018 - the fields every row needs
        except (ValueError, KeyError, TypeError):
            raise ConfigError(f"{path}:{i}: not {what} (needs {', '.join(fields)})") from None
        rows.append(row)
    return rows


def new_run_dir(out: Path | None, suite: str, root: Path | None = None) -> Path:
    """`out` itself, or a fresh `runs/<suite>-<YYYYmmdd-HHMMSS>` under the current directory."""
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        return out
    base = (root or Path.cwd()) / "runs"
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = base / f"{suite}-{stamp}"
    n = 1
    while path.exists():
        n += 1
        path = base / f"{suite}-{stamp}-{n}"
    path.mkdir(parents=True)
    return path


def _clean(value):
    """JSON-safe: NaN/inf become null (json would write invalid NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def write_run(run_dir: Path, metrics: dict, rows: list[dict]) -> None:
    (run_dir / METRICS).write_text(json.dumps(_clean(metrics), indent=2, ensure_ascii=False) + "\n")
    with (run_dir / PER_QUERY).open("w") as fh:
        for row in rows:
            fh.write(json.dumps(_clean(row), ensure_ascii=False) + "\n")


def load_metrics(run_dir: Path) -> dict:
    path = Path(run_dir) / METRICS
    if not path.exists():
        raise NewsragError(
            f"{run_dir} is not a run folder (no {METRICS}); run `newsrag eval SUITE --out DIR` first"
        )
    return json.loads(path.read_text())


def flatten(metrics: dict) -> dict[str, float | None]:
    """Every numeric metric of a run by name: summary names first, then dotted paths."""
    out: dict[str, float | None] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        elif value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            out[prefix] = value

    for key, value in metrics.get("summary", {}).items():
        walk(key, value)
    for key, value in metrics.items():
        if key not in ("summary", "config"):
            walk(key, value)
    return out


def compare_table(a: dict, b: dict, name_a: str = "A", name_b: str = "B") -> str:
    """Aligned text table: metric, A, B, B - A, over the metrics either run has."""
    fa, fb = flatten(a), flatten(b)
    names = list(fa) + [n for n in fb if n not in fa]

    def fmt(v) -> str:
        return "-" if v is None else str(v) if isinstance(v, int) else f"{v:.4f}"

    rows = [("metric", name_a, name_b, "delta")]
    for n in names:
        va, vb = fa.get(n), fb.get(n)
        delta = (
            "-"
            if va is None or vb is None
            else f"{vb - va:+d}"
            if isinstance(vb - va, int)
            else f"{vb - va:+.4f}"
        )
        rows.append((n, fmt(va), fmt(vb), delta))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@dataclass
class Threshold:
    metric: str
    minimum: float


def parse_thresholds(specs: Iterable[str]) -> list[Threshold]:
    out = []
    for spec in specs:
        name, sep, raw = spec.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            out.append(Threshold(name.strip(), float(raw)))
        except ValueError:
            raise ConfigError(f"--fail-under {spec!r}: expected METRIC=NUMBER, e.g. hits@10=0.6") from None
    return out


def check_thresholds(metrics: dict, thresholds: list[Threshold]) -> list[str]:
    """One line per failed threshold; ConfigError for a metric name the run does not have."""
    flat = flatten(metrics)
    failures = []
    for t in thresholds:
        if t.metric not in flat:
            names = ", ".join(metrics.get("summary", {})) or "(none)"
            raise ConfigError(
                f"--fail-under: unknown metric {t.metric!r} for suite {metrics.get('suite')!r}; "
                f"summary metrics: {names} (or any dotted path in {METRICS})"
            )
        value = flat[t.metric]
        if value is None:
            failures.append(f"{t.metric} has no value in this run (required >= {t.minimum:g})")
        elif value < t.minimum:
            failures.append(f"{t.metric} = {value:.4f} is below {t.minimum:g}")
    return failures


def track(progress, items: list, description: str) -> Iterator:
    """Iterate `items`, advancing a rich Progress bar when one is given."""
    if progress is None or not items:
        yield from items
        return
    task = progress.add_task(description, total=len(items))
    for item in items:
        yield item
        progress.advance(task)
    progress.remove_task(task)


def ingest_callback(progress, description: str):
    """A (done, total) callback for `Assistant.ingest`; its bar appears on the first call only."""
    if progress is None:
        return None
    tasks: list = []

    def update(done: int, total: int) -> None:
        if not tasks:
            tasks.append(progress.add_task(description, total=total))
        progress.update(tasks[0], completed=done, total=total)

    return update
