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
