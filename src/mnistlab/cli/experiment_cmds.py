"""`mnistlab` commands for experiment."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
