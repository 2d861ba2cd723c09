"""`mnistlab` commands for inspect."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
