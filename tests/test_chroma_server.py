"""NEWSRAG_CHROMA_URL: the same pipeline against a real Chroma server (`chroma run`)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.assistant import Assistant
from rag.errors import NewsragError
from rag.settings import Settings
from tests.conftest import DEMO

CHROMA = Path(sys.executable).with_name("chroma")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_url(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("chroma server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_ingest_retrieve_and_delete_through_a_chroma_server(tmp_path, chroma_url):
    settings = Settings(data_dir=tmp_path / "data", llm="extractive", chroma_url=chroma_url)
    assistant = Assistant(settings)
    report = assistant.ingest([DEMO])
    assert (report.new, report.failed) == (20, 0)
    assert not (tmp_path / "data" / "chroma").exists()  # nothing stored locally
    again = Assistant(settings).ingest([DEMO])
    assert (again.unchanged, again.chunks_embedded) == (20, 0)
    hits = Assistant(settings).retrieve("Reserve Bank cash rate cut", k=3)
    assert hits[0].node.metadata["title"] == "Reserve Bank of Australia cuts cash rate to 4.10%"
    assert Assistant(settings).delete(source="Harbour Post") == 4
    assert Assistant(settings).stats()["articles"] == 16


def test_unreachable_server_says_how_to_fix(tmp_path):
    settings = Settings(
        data_dir=tmp_path / "data", llm="extractive", chroma_url=f"http://127.0.0.1:{free_port()}"
    )
    with pytest.raises(NewsragError, match=r"cannot reach the Chroma server at http://127\.0\.0\.1:\d+ "):
        Assistant(settings).stats()
