"""The house rules: imports point one way, prompts are files that render, one vocabulary, one tuning object."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from conftest import ROOT
from typer.testing import CliRunner

from rag.answer.prompts import render, variables
from rag.errors import ConfigError
from rag.settings import Settings
from rag.text import bm25_tokens, terms, words
from rag.tuning import Tuning

PROMPT_VARIABLES = {
    "system": {"shape"},
    "shape_direct": set(),
    "shape_written": set(),
    "answer": {"sources", "question", "instruction"},
    "rewrite": {"history", "question"},
    "instruction_yes_no": set(),
    "instruction_open": set(),
    "instruction_name": set(),
    "instruction_choice": {"a", "b"},
    "instruction_position": set(),
    "instruction_summary": set(),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize(
    "package, forbidden",
    [("rag", {"ui", "evals"}), ("ingest", {"rag", "ui", "evals"}), ("ui", {"evals"}), ("evals", {"ui"})],
)
def test_imports_point_one_way(package, forbidden):
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & forbidden)
        for path in sorted((ROOT / package).rglob("*.py"))
        if _imports(path) & forbidden
    }
    assert offenders == {}


def test_every_prompt_template_renders_with_exactly_its_variables():
    files = {p.name[:-4] for p in resources.files("prompts").iterdir() if p.name.endswith(".txt")}
    assert files == set(PROMPT_VARIABLES)
    for name, expected in PROMPT_VARIABLES.items():
        assert variables(name) == expected
        text = render(name, **{v: f"<{v}>" for v in expected})
        assert all(f"<{v}>" in text for v in expected) and "{" not in text
    with pytest.raises(ConfigError, match=r"prompt 'instruction_choice' takes \['a', 'b'\], got \['a'\]"):
        render("instruction_choice", a="Yes")


def test_import_rag_loads_no_ui_plotting_or_model_libraries():
    code = (
        "import sys, rag; heavy = {'gradio', 'matplotlib', 'chromadb', 'onnxruntime', 'llama_cpp', 'ui', 'evals'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_one_vocabulary_three_tokenisers():
    text = "Sam Bankman-Fried's lawyers said the FTX founder was reporting"
    assert terms(text) == ["sam", "bankman-fri", "lawyer", "ftx", "founder"]
    assert bm25_tokens([text]) == [["sam", "bankman", "fri", "lawyer", "said", "ftx", "founder", "report"]]
    assert words("Sam Bankman-Fried's") == ["sam", "bankman", "fried", "s"]


def test_tuning_is_one_frozen_object_that_an_eval_can_override():
    tuning = Tuning()
    with pytest.raises(ValueError):
        tuning.pool = 10  # type: ignore[misc]
    swept = tuning.with_values(["cover_decay=1", "pool=80"])
    assert (swept.cover_decay, swept.pool, tuning.pool) == (1.0, 80, 60)
    with pytest.raises(ConfigError, match=r"^--tune 'nope=1': expected FIELD=VALUE with FIELD one of pool, "):
        tuning.with_values(["nope=1"])
    with pytest.raises(ConfigError, match=r"^--tune: 1 validation error for Tuning\npool\n"):
        tuning.with_values(["pool=many"])


def test_tuning_values_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("NEWSRAG_TUNING__COVER_DECAY", "0.5")
    assert Settings().tuning.cover_decay == 0.5
    assert Settings().tuning.pool == 60


def test_version_and_plugged_commands():
    from rag.cli import build_app

    app = build_app()
    runner = CliRunner()
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output.startswith("newsrag ")
    names = {c.name or c.callback.__name__ for c in app.registered_commands} | {
        g.name for g in app.registered_groups
    }
    assert {"ingest", "ask", "chat", "stats", "delete", "setup", "serve", "demo", "eval"} <= names
    assert build_app() is app and len(app.registered_groups) == 1  # plugging in twice adds nothing twice
