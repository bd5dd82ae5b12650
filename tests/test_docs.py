"""The README documents what the code does: every store table, the two commands, the CLI."""

from pipeline.store import TABLES
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_lists_every_store_table_with_its_description():
    for table, (_, description) in TABLES.items():
        assert f"| `{table}` | {description} |" in README


def test_readme_gives_the_two_commands_and_ci_runs_the_test_one():
    assert "make demo" in README and "make test" in README
    assert "make test" in (ROOT / ".ci" / "run").read_text()
