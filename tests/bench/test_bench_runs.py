"""The benchmark script keeps working: `python -m bench --tiny` drives real processes end to
end (signed deliveries from a peer's many hosts, the baseline, the worker, the GET storm, fan-out
to healthy, slow and dead hosts) and
every request it makes is answered as it should be. Its figures are not looked at: speed is
measured by running the benchmark, never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent.parent


def test_the_tiny_benchmark_runs_and_everything_it_sends_is_accepted(engine_name, new_database_url, tmp_path):
    results = tmp_path / "figures.json"
    done = subprocess.run([sys.executable, "-m", "bench", "--tiny", "--engine", engine_name, "--json", str(results),
                           "--database-url", new_database_url(empty=True)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads(results.read_text())["figures"]
    assert figures[f"{engine_name} ingest not accepted, cold"] == 0
    assert figures[f"{engine_name} ingest not accepted, warm"] == 0
    sent = 60 + 30  # the tiny ingest, and one repeated warm half for the memory figure
    assert figures[f"{engine_name} inbox applied"] == sent
    assert figures[f"{engine_name} remote posts stored"] == sent
    assert figures[f"{engine_name} GET storm not 200"] == 0
    # Fan-out: 40 followers each; (a) on 3 healthy hosts' shared inboxes, (b) at 40 personal
    # inboxes, (c) 40 spread over 8 hosts of which 3 are slow and 2 dead: 15 on healthy ones.
    assert [figures[f"{engine_name} fan-out ({case}) delivered"] for case in "abc"] == [3, 40, 15]
    assert figures[f"{engine_name} ingest accepted/s, keys warm"]["value"] > 0
