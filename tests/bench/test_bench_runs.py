"""The benchmark script keeps working: `python -m bench --tiny` drives real processes end to
end (signed deliveries from a peer's many hosts, the baseline, the worker, the GET storm, fan-out
to healthy, slow and dead hosts, the home timeline read page by page beside its one-SELECT
baseline, streams timed from an inbox delivery, the same ingest against a Fedify server) and
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
    # The home timeline: 3,000 seeded statuses; readers following 2, 5 and 20 accounts saw
    # exactly the baseline's pages, and every figure was measured.
    assert figures[f"{engine_name} home statuses seeded"] == 3_000
    assert figures[f"{engine_name} home requests not 200"] == 0
    assert figures[f"{engine_name} home pages unlike the baseline"] == 0
    for follows in (2, 5, 20):
        queries = figures[f"{engine_name} home queries/request, following {follows}"]
        assert queries["value"] > 1 and queries["baseline"] == 1  # counted in both servers
        for page in (1, 5):
            for readers in ("1 reader", "16 readers"):
                for name in ("p50", "p99"):
                    figure = figures[f"{engine_name} home page {page} {name}, following {follows}, {readers}"]
                    assert figure["value"] > 0 and figure["baseline"] > 0
    # Streaming: every event reached every stream, on one and on three.
    assert figures[f"{engine_name} stream events missing"] == 0
    assert figures[f"{engine_name} stream event on the last of 3 streams"]["value"] > 0
    # Fedify side by side: run, or skipped with the reason (no Node or its modules here).
    assert f"{engine_name} fedify skipped" in figures or figures[f"{engine_name} fedify inline not accepted, warm"] == 0
