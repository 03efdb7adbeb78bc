"""Several processes on one data dir: the first questions of N fresh processes build the saved index once."""

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


def test_eight_first_questions_at_once_build_one_saved_index(demo_data_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(demo_data_dir, data)
    shutil.rmtree(data / "index", ignore_errors=True)  # as on a fresh data dir: no saved index yet
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
    (folder,) = (data / "index").iterdir()  # one saved index for the collection…
    versions = sorted(p.name for p in folder.iterdir() if p.is_dir())
    assert len(versions) == 1 and versions[0].startswith("v")  # …built once, in one version
    assert (folder / "CURRENT").read_text().strip() == versions[0]
