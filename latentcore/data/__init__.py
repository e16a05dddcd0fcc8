"""Readers for every input format (one module per format, registered with `@register`), chosen by
content with `open_source(path)`; band-contrast tables and their alignment to scan coordinates.

    with open_source("scan.h5") as reader:
        info = reader.info()
        for batch, rows in reader.iter_batches("all", batch_size=256):
            ...
"""
from . import (bruker, edax, edax_binary, emsoft, h5ebsd, images, latents_source, nenya,  # noqa: F401  (register)
               nordif, npz_features, oxford, oxford_binary, video)
from .bandcontrast import align_to_coordinates, read_bandcontrast
from .base import (Reader, SourceInfo, detect_format, open_source, readable_extensions, register,
                   registered_readers, scan_formats)

__all__ = ["Reader", "SourceInfo", "align_to_coordinates", "detect_format", "open_source", "read_bandcontrast",
           "readable_extensions", "register", "registered_readers", "scan_formats"]
