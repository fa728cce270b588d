"""What `sop-pipeline run` shows: progress on the console, Dagster's full log in the run's log file,
and on failure one paragraph in the planner's words.

Dagster's own console logger is replaced for CLI runs by one logger with two handlers: the log file
(every record, stack traces included, as Dagster's console would have shown them) and the console
(one line per asset written and per check, plus the stages' own progress messages). The UI keeps
the whole event log as before.
"""

from __future__ import annotations

import logging
import re
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from sop_pipeline.common.errors import SopError

LOG_FORMAT = "%(asctime)s %(levelname)s %(message)s"


def run_log_path(db_path: Path, cycle: date, run_id: str) -> Path:
    """`<database folder>/logs/run_<YYYY-MM>_<run id>.log`."""
    return Path(db_path).parent / "logs" / f"run_{cycle:%Y-%m}_{run_id[:8]}.log"


class ProgressHandler(logging.Handler):
    """Prints a run's progress: each asset written (rows, seconds), each check, the stages' messages."""

    def __init__(self, say: Callable[[str], None]):
        super().__init__(logging.DEBUG)  # Dagster logs its step and asset events at DEBUG
        self.say = say
        self.started: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None)
        if not meta:
            return
        event = meta.get("dagster_event")
        step = meta.get("step_key")
        if event is None:
            if step and logging.INFO <= record.levelno < logging.ERROR:
                self.say(f"    [dim]{_escape(str(meta.get('orig_message', '')))}[/dim]")
            return
        kind = event.event_type_value
        if kind == "STEP_START":
            self.started[step] = record.created
        elif kind == "ASSET_MATERIALIZATION":
            materialization = event.event_specific_data.materialization
            rows = materialization.metadata.get("dagster/row_count")
            seconds = record.created - self.started.get(step, record.created)
            detail = f"{rows.value:,} rows, " if rows is not None else ""
            self.say(f"  [green]✓[/green] {materialization.asset_key.to_user_string()} ({detail}{seconds:.1f} s)")
        elif kind == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            mark = "[green]✓[/green]" if evaluation.passed else "[red]✗[/red]"
            self.say(f"  {mark} check {evaluation.check_name} on {evaluation.asset_key.to_user_string()}")
        elif kind == "STEP_FAILURE":
            self.say(f"  [red]✗[/red] step {step} failed")


def _escape(text: str) -> str:
    return text.replace("[", r"\[")


# Library warnings (Dagster's PreviewWarning, a deprecation in pandas, ...) are for developers, not for the
# planner's console: `hold_library_warnings` keeps them from the start of the command, and a run writes them
# (and any later ones) to its log file.
_held_warnings: list[str] = []


def _hold(message, category, filename, lineno, file=None, line=None) -> None:
    _held_warnings.append(warnings.formatwarning(message, category, filename, lineno, line).rstrip())


def hold_library_warnings() -> None:
    """Keep every warning off the console from now on (a run's log file receives them)."""
    warnings.showwarning = _hold


@contextmanager
def run_logging(log_path: Path, level: str, say: Callable[[str], None]) -> Iterator:
    """A Dagster logger definition writing the run's log to `log_path` and its progress through `say`."""
    import dagster as dg  # heavy: loaded when a run starts, not for `--help` or a settings error

    log_path.parent.mkdir(parents=True, exist_ok=True)
    file_handler = logging.FileHandler(log_path, encoding="utf-8")
    file_handler.setLevel(level)
    file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logger = logging.getLogger(f"sop_pipeline.run.{uuid.uuid4().hex}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(file_handler)
    logger.addHandler(ProgressHandler(say))  # prints Dagster's events only, so warnings stay in the file
    for text in _held_warnings:
        logger.warning(text)
    _held_warnings.clear()
    previous_show = warnings.showwarning
    warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: logger.warning(
        warnings.formatwarning(message, category, filename, lineno, line).rstrip())

    @dg.logger(description="sop-pipeline run: the full log to a file, progress to the console")
    def sop_run_logger(_context) -> logging.Logger:
        return logger

    try:
        yield sop_run_logger
    finally:
        warnings.showwarning = previous_show
        logger.handlers.clear()
        file_handler.close()


def _exit_codes() -> dict[str, int]:
    """Exit code of every SopError class, by class name (as Dagster's serialized errors name them)."""
    codes, todo = {}, [SopError]
    while todo:
        cls = todo.pop()
        codes[cls.__name__] = cls.exit_code
        todo += cls.__subclasses__()
    return codes


def _error_from_chain(error) -> tuple[str, int] | None:
    """The user-facing message of a SopError somewhere in a Dagster error chain, and its exit code.

    Dagster keeps an exception as its class name and `module.Class: str(exc)`; a SopError's text is its
    whole paragraph (what, where, every problem, what to do), so it arrives intact."""
    codes = _exit_codes()
    while error is not None:
        if error.cls_name in codes:
            message = re.sub(rf"^[\w.]*\b{error.cls_name}:\s*", "", error.message.strip())
            return message, codes[error.cls_name]
        error = error.cause or getattr(error, "context", None)
    return None


def explain_failure(result, log_path: Path, in_ui: bool = True) -> tuple[str, int]:
    """One paragraph saying why a run failed, in the planner's words, and the exit code (`in_ui`: the run is
    in the UI's run list; a backfill's cycles, run on an in-memory Dagster instance, are not)."""
    unchanged = "Nothing was published; the previous plan is unchanged."
    where_log = f"The run's full log: {log_path}" + (f" (run {result.run_id[:8]} in `sop-pipeline ui`)." if in_ui
                                                      else ".")
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed:
                description = evaluation.description or evaluation.check_name
                return (f"The data check '{evaluation.check_name}' on {evaluation.asset_key.to_user_string()} "
                        f"failed: {description}. {unchanged} Fix the input and run again. {where_log}"), 2
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            found = _error_from_chain(error)
            if found:
                message, code = found
                return f"{message} {unchanged} {where_log}", code
            last_line = (error.message.strip().splitlines() or ["(no message)"])[-1]
            return (f"Step {event.step_key} failed unexpectedly: {last_line}. {unchanged} "
                    f"This is a bug in sop-pipeline, not in your data: please report it with the log. {where_log}"), 1
    return f"The run {result.run_id} did not succeed. {unchanged} {where_log}", 1
