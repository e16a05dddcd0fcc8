"""`python -m latentcore`: the command line (`cli.main`), Ctrl-C included from the first moment to the last.

Inside `main`, Ctrl-C stops the work cleanly (the `.partial` kept) and exits 130 with one line. Outside it,
while the commands load and while the process ends (its exit functions join threads and reader processes),
Python's own handler would print a KeyboardInterrupt traceback and exit 0 or -2: there Ctrl-C ends the
process at once, with the same line and code (only `latentcore.errors` is loaded before this handler). The
interpreter's teardown after the exit functions (seconds of freeing modules and torch's libraries, with
Ctrl-C back to its default) is skipped: it writes nothing.
"""
import atexit
import os
import signal
import sys

from .errors import INTERRUPTED, INTERRUPTED_EXIT

code = None  # the exit code, once main has returned


def end_now(signum=None, frame=None):
    """Exit at once: 130 and the line on Ctrl-C, or `code` after main's own line."""
    if not code:
        print(INTERRUPTED, file=sys.stderr)
    exit_now(code or INTERRUPTED_EXIT)


def exit_now(status: int):
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(status)


signal.signal(signal.SIGINT, end_now)
atexit.register(lambda: exit_now(1 if code is None else code))  # registered first: the last exit function

try:
    from .cli import main

    code = main()
except SystemExit as exc:  # argparse: --help, or a usage error (its line said)
    code = exc.code or 0
except KeyboardInterrupt:  # raised in main's last lines, after its own handling
    end_now()

from .latents import hdf5_write_failed  # noqa: E402

if hdf5_write_failed():  # HDF5 would retry the failed writes at exit and crash: the error is already said
    exit_now(code)
sys.exit(code)
