"""Every registered command imports and answers --help (an import error in one command module would
otherwise surface only when a user runs it)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from agentic.cli.main import COMMANDS, cli

NAMES = sorted({attr.replace("_cmd", "").replace("_", "-") for _, attr in COMMANDS})


def test_the_root_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    for name in NAMES:
        assert name in result.output


@pytest.mark.parametrize("name", NAMES)
def test_each_command_and_sub_command_has_help(name: str) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    if isinstance(command, click.Group):
        for sub in command.list_commands(click.Context(command)):
            sub_result = runner.invoke(cli, [name, sub, "--help"])
            assert sub_result.exit_code == 0, f"{name} {sub}: {sub_result.output}"
            assert "Usage:" in sub_result.output
