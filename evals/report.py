"""report.md and PNG charts for a run (matplotlib with the Agg backend, imported only when drawing)."""

from __future__ import annotations

from pathlib import Path


def fmt(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(c) if not isinstance(c, str) else c for c in row) + " |" for row in rows]
    return "\n".join(lines)


def grouped_table(blocks: dict[str, dict], keys: list[str], first: str = "type") -> str:
    """One row per block (e.g. "overall", then each question type), one column per key, plus n."""
    rows = [[name] + [block.get(k) for k in keys] + [block.get("n")] for name, block in blocks.items()]
    return table([first] + keys + ["n"], rows)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bar_chart(path: Path, blocks: dict[str, dict], keys: list[str], title: str, ylim: tuple = (0, 1)) -> str:
    """Grouped bars: one group per block, one bar per key. Returns the file name."""
    plt = _pyplot()
    names = list(blocks)
    width = 0.8 / max(len(keys), 1)
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(names)), 4))
    for j, key in enumerate(keys):
        values = [blocks[n].get(key) or 0.0 for n in names]
        ax.bar([i + j * width for i in range(len(names))], values, width, label=key)
    ax.set_xticks([i + width * (len(keys) - 1) / 2 for i in range(len(names))])
    ax.set_xticklabels(names, rotation=15)
    ax.set_ylim(*ylim)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def line_chart(
    path: Path,
    xs: list[float],
    series: dict[str, list[float]],
    title: str,
    xlabel: str,
    ylabel: str,
    logx: bool = True,
) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, ys in series.items():
        ax.plot(xs, ys, marker="o", label=label)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def write(run_dir: Path, title: str, sections: list[str]) -> Path:
    path = run_dir / "report.md"
    path.write_text(f"# {title}\n\n" + "\n\n".join(s.strip() for s in sections if s) + "\n")
    return path
