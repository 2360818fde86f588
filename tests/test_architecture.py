"""The import ladder of DESIGN.md is a contract: import-linter checks it on every run."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_packages_import_only_down_the_ladder():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_a_serving_process_loads_no_more_than_it_needs():
    """Each is memory every instance would hold idle (README, Memory): Alembic is for `rounds init`,
    Pillow for the first upload, Jinja2 for the first HTML page, and the SQLite driver for instances
    on SQLite."""
    probe = ("import sys, web.cli, web.app, web.api.media, web.api.profile, web.pages\n"
             "from storage.engine import Database\n"
             "Database('postgresql://rounds@127.0.0.1/never_connected')\n"
             "print(' '.join(sorted({'alembic', 'PIL', 'jinja2', 'sqlite3', 'aiosqlite'}\n"
             "                      & {name.split('.')[0] for name in sys.modules})))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == []
