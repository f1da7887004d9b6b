"""The README's commands are the ones CI runs."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command_exactly():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("Run the tests") :]
    command = re.search(r"```bash\n(.+?)\n```", section, re.S).group(1).strip()
    assert "\n" not in command, "the test command is one line a newcomer copies"
    assert command.startswith("apt-get update && ")
    assert command.endswith(".venv/bin/python -m pytest -q")
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert command in ci_lines
