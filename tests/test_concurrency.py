"""Several processes on one data dir: the first questions of N fresh processes build the keyword cache once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from conftest import ROOT

N_PROCESSES = 8
CHILD = """
import json, sys
from rag.assistant import Assistant
from rag.settings import Settings
hits = Assistant(Settings(data_dir=sys.argv[1], llm="extractive")).retrieve("European peacekeepers in Ukraine", k=3)
print(json.dumps([h.node.node_id for h in hits]))
"""


def test_eight_first_questions_at_once_build_one_keyword_cache(demo_data_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(demo_data_dir, data)
    shutil.rmtree(data / "bm25", ignore_errors=True)  # as on a fresh data dir: no keyword cache yet
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(data)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=dict(os.environ),
        )
        for _ in range(N_PROCESSES)
    ]
    results = [proc.communicate(timeout=600) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * N_PROCESSES, [err[-2000:] for _, err in results]
    assert all("Traceback" not in err for _, err in results)
    answers = {out.strip() for out, _ in results}
    assert len(answers) == 1 and len(json.loads(answers.pop())) == 3
    cache = data / "bm25" / "news"
    versions = sorted(p.name for p in cache.iterdir() if p.is_dir())
    assert len(versions) == 1 and not versions[0].endswith(".tmp")
    assert sorted(p.name for p in (cache / versions[0]).iterdir()) == [
        "chunks",
        "ids.json",
        "sentence_owner.npy",
        "sentences",
    ]
