"""Progress bars and summary tables for the management commands (rich), quiet when stdout is not a terminal."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from django.core.management.base import BaseCommand
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table


def add_progress_argument(parser) -> None:
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bars (they are off anyway when stdout is not a TTY)"
    )


def console_for(command: BaseCommand) -> Console:
    """A rich console on the command's stdout (the raw stream: Django's wrapper adds newlines)."""
    stream = getattr(command.stdout, "_out", command.stdout)
    terminal = bool(getattr(stream, "isatty", lambda: False)())
    # Outside a terminal: no colours, no cursor tricks, a fixed width so logs read the same everywhere.
    return Console(file=stream, force_terminal=terminal, width=None if terminal else 110, highlight=False)


class Bar:
    """One task on a progress display; with the display off, `advance` does nothing and `echo` writes a line."""

    def __init__(self, command: BaseCommand, progress: Progress | None, task_id: Any) -> None:
        self._command = command
        self._progress = progress
        self._task_id = task_id

    def advance(self, steps: float = 1, **fields: Any) -> None:
        if self._progress is not None:
            self._progress.update(self._task_id, advance=steps, **fields)

    def update(self, **fields: Any) -> None:
        """`completed=`, `total=`, `description=` or custom fields such as `status=`."""
        if self._progress is not None:
            self._progress.update(self._task_id, **fields)

    def echo(self, line: str, style: str | None = None) -> None:
        """A line of output above the bar (or plain, as the command always wrote it)."""
        if self._progress is None:
            style_func = getattr(self._command.style, style) if style else None
            self._command.stdout.write(line, style_func=style_func)
        else:
            self._progress.console.print(line, style=_RICH_STYLES.get(style or ""), markup=False)


_RICH_STYLES = {"WARNING": "yellow", "ERROR": "red", "SUCCESS": "green", "NOTICE": "cyan"}


def progress_enabled(command: BaseCommand, options: dict) -> bool:
    return not options.get("no_progress") and console_for(command).is_terminal


@contextlib.contextmanager
def progress_bar(
    command: BaseCommand, *, description: str, total: float | None, enabled: bool, status: str = ""
) -> Iterator[Bar]:
    """A single progress bar for the duration of the block; `status` is free text shown after it."""
    if not enabled:
        yield Bar(command, None, None)
        return
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=console_for(command),
        transient=False,
        refresh_per_second=8,
    )
    with progress:
        task_id = progress.add_task(description, total=total, status=status)
        yield Bar(command, progress, task_id)


def table_print(command: BaseCommand, *, title: str, rows: Sequence[tuple[str, Any]], columns=("", "")) -> None:
    """A two-column summary table (name, value), plain text outside a terminal."""
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", show_header=any(columns))
    table.add_column(columns[0])
    table.add_column(columns[1], justify="right")
    for name, value in rows:
        table.add_row(name, f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value))
    console_for(command).print(table)
