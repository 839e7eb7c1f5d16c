"""Every setting, error code and CLI command has an entry in the docs."""

from __future__ import annotations

from pathlib import Path

from typer.main import get_command

from modelyard import config
from modelyard.cli.app import app
from modelyard.errors import all_error_classes

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "settings.md").read_text()
    for setting in config.ALL_SETTINGS:
        assert f"`{setting.env}`" in text, setting.env


def test_every_error_code_is_documented() -> None:
    text = (ROOT / "docs" / "api.md").read_text()
    for cls in all_error_classes():
        assert f"`{cls.code}`" in text, cls.code


def test_every_cli_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    command = get_command(app)
    for name in command.commands:  # type: ignore[attr-defined]
        assert f"modelyard {name}" in readme, name
