"""`mnistlab` commands for train."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
