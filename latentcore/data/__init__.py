"""Readers for every input format (one module per format, registered with `@register`), chosen by
content with `open_source(path)`; band-contrast tables and their alignment to scan coordinates.

    with open_source("scan.h5") as reader:
        info = reader.info()
        for batch, rows in reader.iter_batches("all", batch_size=256):
            ...

The package loads nothing until a name is asked for, and the readers' modules when the registry is first consulted
(`base.READER_MODULES`): a command's parser, which needs only a constant or two of `preprocess` or `parallel`,
loads no reader.
"""
import importlib

_HOMES = {"Reader": "base", "SourceInfo": "base", "detect_format": "base", "open_source": "base",
          "readable_extensions": "base", "register": "base", "registered_readers": "base", "scan_formats": "base",
          "align_to_coordinates": "bandcontrast", "read_bandcontrast": "bandcontrast"}  # each name: its module
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
