"""User-facing errors.

Every failure a planner can cause (a bad file, a bad setting, an impossible plan) is raised as a
`SopError`: what went wrong, where (file, column, row, family, month) and what to do about it. The
CLI prints it as one paragraph and exits non-zero; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class SopError(Exception):
    """An error in the user's input or settings, explained in the planner's words."""

    exit_code = 2

    def __init__(self, what: str, where: str | None = None, fix: str | None = None,
                 problems: list[str] | None = None):
        self.what = what.rstrip(".:")
        self.where = where
        self.fix = fix
        # Each problem on its own ("planning.defaults.costs.wage: must be >= 0"), for callers that
        # collect or count them; `message` lists them one per line.
        self.problems = list(problems or [])
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = self.what
        if self.where:
            text += f" ({self.where})"
        if self.problems:
            # One problem per line; the fix after them, indented, so the paragraph reads as one block.
            text += ":\n" + "\n".join(f"  - {problem}" for problem in self.problems) + "\n "
        else:
            text += "."
        if self.fix:
            text += " " + self.fix.rstrip(".") + "."
        return text


class InputDataError(SopError):
    """Sales history, new products or adjustments that cannot be used."""


class SettingsError(SopError):
    """A settings file (sop.yaml) or planning-problem file that does not validate."""


class PlanningError(SopError):
    """A production-planning problem that has no feasible or bounded plan."""

    exit_code = 3


class DatabaseBusyError(SopError):
    """The plan database is in use by another run, and the caller chose not to wait for it."""

    exit_code = 4


class DatabaseFileError(SopError):
    """The `--db` file is not a plan database (damaged, not DuckDB, or another application's DuckDB file)."""
