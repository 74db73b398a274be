"""Errors with a message that names the problem and the fix.

The tools print these as one line (``error: ...``) instead of a traceback
(:func:`run_tool`). Each also derives from the builtin a caller would expect
to catch.
"""
import signal
import sys
from typing import Callable, Optional, Sequence


def run_tool(main: Callable[[Optional[Sequence[str]]], None],
             argv: Optional[Sequence[str]] = None, flags: Optional[dict] = None) -> int:
    """Run a tool's ``main(argv)``: exit code 0, or 2 with the toolkit
    error's message as one ``error: ...`` line on stderr (a run stopped on a
    signal: one ``stopped: ...`` line from rank 0 and the signal's exit code;
    with ``argv`` None, the process's own command line, later SIGTERMs are
    then ignored while it exits). ``flags`` maps the options an
    :class:`OptionError` names to the tool's flags (:func:`option_flags`)."""
    try:
        main(argv)
    except TrainingStopped as err:
        from mmengine.dist import is_main_process
        if is_main_process():  # every rank stops at the same iteration
            print(f'stopped: {err}', file=sys.stderr)
        if argv is None:
            # The process's own command line ends here. The checkpoint is
            # written; a launcher's SIGTERM to the ranks still running
            # (torchrun sends one when the first rank exits) is the same
            # request and must not turn the exit code into a kill.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        return err.exit_code
    except OptionError as err:
        flag = (flags or {}).get(err.option)
        print(f'error: {err.with_flag(flag) if flag else err}', file=sys.stderr)
        return 2
    except FasterNetDenseError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    return 0


class FasterNetDenseError(Exception):
    """Base of the toolkit's user-facing errors."""


class ConfigError(FasterNetDenseError, ValueError):
    """A config value is invalid (unknown arch, out-of-range index, ...)."""


class OptionError(ConfigError):
    """An option given a value it does not take. The message names the
    option as the library calls it (``calib``, ``raw_input=False``); a tool
    names its flag instead (``--calib``, ``--normalized-input``).

    Args:
        option: the option's name, or ``name=value`` for a switch.
        template: the message, with ``{option}`` where the option is named.
    """

    def __init__(self, option: str, template: str):
        self.option, self.template = option, template
        super().__init__(template.format(option=option))

    def with_flag(self, flag: str) -> str:
        """The message naming the tool's ``flag``."""
        return self.template.format(option=flag)


def option_flags(parser, extra: Optional[dict] = None) -> dict:
    """The flags of an ``argparse`` parser by the option names the library
    uses: ``dest`` for every flag, ``dest=True`` for a switch; ``extra``
    adds names that differ (``{'raw_input=False': '--normalized-input'}``)."""
    flags = {}
    for action in parser._actions:  # argparse keeps no public list of them
        if not action.option_strings:
            continue
        flag = max(action.option_strings, key=len)
        flags[action.dest] = flag
        if action.const is True and action.nargs == 0:
            flags[f'{action.dest}=True'] = flag
    flags.update(extra or {})
    return flags


class CheckpointMismatchError(FasterNetDenseError, ValueError):
    """A checkpoint's tensors do not fit the model (another arch, say)."""


class UnsafeCheckpointError(FasterNetDenseError, RuntimeError):
    """A checkpoint holds a pickled object outside the safe allow-list."""


class MissingFileError(FasterNetDenseError, FileNotFoundError):
    """A dataset, annotation file or checkpoint is not where the config says."""


class DatasetError(FasterNetDenseError, ValueError):
    """Dataset content is invalid (bad annotations, unreadable images, ...)."""


class CheckpointWriteError(FasterNetDenseError, OSError):
    """A checkpoint could not be written (disk full, permission, quota, I/O
    error); the previous checkpoint is left as it was."""


class NonFiniteLossError(FasterNetDenseError, FloatingPointError):
    """Training met a NaN or infinite loss (or gradient) and stopped before
    saving anything of that iteration."""


class UnreadableImagesError(FasterNetDenseError, OSError):
    """More training images could not be read than a run allows; the last
    checkpoint is left as it was."""


class WorkDirInUseError(FasterNetDenseError, RuntimeError):
    """Another training holds the work dir's lock."""


class TrainingStopped(FasterNetDenseError):
    """Training stopped on a signal after saving a checkpoint to resume
    from; ``exit_code`` is the shell's for that signal (128 + its number)."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code
