import os
import sys

from .cli import main

code = main()
from .latents import hdf5_write_failed  # noqa: E402

if hdf5_write_failed():  # HDF5 would retry the failed writes at exit and crash: the error is already said
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
