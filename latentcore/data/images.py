"""Images: a folder of PNG/JPEG/TIFF/BMP/NPY files (sorted by name) or one image file; grey or
RGB, yielded as (C, H, W). Every image must have the size of the first."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import InputError
from ._files import FilesReader
from .base import SourceInfo, register

PIL_FORMATS = ("PNG", "JPEG", "TIFF", "BMP")
PICTURES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")  # the endings of PIL_FORMATS
EXTENSIONS = (*PICTURES, ".npy")
NPY_MAGIC = b"\x93NUMPY"


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in EXTENSIONS and not p.name.startswith("."))


def _is_pil_image(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            return image.format in PIL_FORMATS
    except Image.DecompressionBombError:
        return True  # an image, refused by ImageReader with its size
    except (UnidentifiedImageError, OSError):
        return False


def _pil_array(image: Image.Image, box=None) -> np.ndarray:
    """Pixels as grey (L, I, I;16, F) or RGB: palette, CMYK, RGBA... become RGB; 1 and LA grey."""
    mode = image.mode
    target = mode if mode in ("L", "RGB", "I", "I;16", "F") else ("L" if mode in ("1", "LA") else "RGB")
    image = image.crop(box) if box else image
    return np.asarray(image if target == mode else image.convert(target))


def _npy_shape(path: Path) -> tuple[tuple[int, ...], np.dtype]:
    array = np.load(path, mmap_mode="r", allow_pickle=False)  # reads the header only
    return array.shape, array.dtype


def _chw(shape: tuple[int, ...]) -> tuple[int, int, int] | None:
    """(C, H, W) an array of `shape` is given as: (H, W), (H, W, C) or (C, H, W), C in 1/3/4
    (alpha is dropped); None when it is not an image."""
    if len(shape) == 2:
        return (1, *shape)
    if len(shape) == 3 and shape[-1] in (1, 3, 4):
        return (min(shape[-1], 3), *shape[:2])
    if len(shape) == 3 and shape[0] in (1, 3):
        return shape
    return None


@register
class ImageReader(FilesReader):
    format_name = "images"
    title = "images"
    extensions = (*EXTENSIONS, "")  # "": a folder
    description = "a folder of images (PNG, JPEG, TIFF, BMP, NPY) or one image; items (C, H, W)"

    @classmethod
    def sniff(cls, path):
        if path.is_dir():
            files = image_files(path)
            return bool(files) and cls._looks_like_image(files[0], single=False)
        return cls._looks_like_image(path, single=True)

    @staticmethod
    def _looks_like_image(path: Path, single: bool) -> bool:
        with open(path, "rb") as f:
            if f.read(len(NPY_MAGIC)) != NPY_MAGIC:
                return _is_pil_image(path)
        shape, _ = _npy_shape(path)
        # a lone 2-D .npy is ambiguous ((H, W) image or (N, D) latents): detection leaves it to
        # the latents reader; format="images" reads it as an image.
        return _chw(shape) is not None and not (single and len(shape) == 2)

    def __init__(self, path):
        super().__init__(path)
        self.files = image_files(self.path) if self.path.is_dir() else [self.path]
        if not self.files:
            raise InputError(f"no image files in the folder: put {', '.join(EXTENSIONS)} files in it", self.path)
        shapes = [self._shape_of(p) for p in self.files]
        item_shape, dtype = shapes[0]
        for file, (shape, _) in zip(self.files, shapes):
            if shape[1:] != item_shape[1:] or shape[0] > item_shape[0]:  # grey in RGB is fine
                raise InputError(f"image {file.name!r} is {shape} (C, H, W) but {self.files[0].name!r} is "
                                 f"{item_shape}: all images must have the size of the first; crop or resize them",
                                 self.path)
        self._info = SourceInfo(path=str(self.path), format=self.format_name,
                                partitions={"all": len(self.files)}, item_shape=item_shape, dtype=str(dtype),
                                extra={"files": [p.name for p in self.files[:1000]]})

    def _shape_of(self, path: Path) -> tuple[tuple[int, int, int], np.dtype]:
        try:
            if path.suffix.lower() == ".npy":
                shape, dtype = _npy_shape(path)
            else:
                with Image.open(path) as image:
                    array = _pil_array(image, (0, 0, 1, 1))  # decodes next to nothing
                    shape, dtype = (image.height, image.width, *array.shape[2:]), array.dtype
        except Image.DecompressionBombError:
            raise InputError(f"image of more than {2 * Image.MAX_IMAGE_PIXELS:,} pixels, more than an item is "
                             "read as (Pillow's limit against decompression bombs): crop it into tiles, or resize it",
                             path) from None
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise InputError(f"cannot read image ({exc}): copy it again, or convert it to PNG", path) from exc
        chw = _chw(shape)
        if chw is None:
            raise InputError(f"not an image: shape {shape} is neither (H, W), (H, W, C) nor (C, H, W); save it in one "
                             "of those", path)
        return chw, dtype

    def _load(self, path: Path) -> np.ndarray:
        try:
            if path.suffix.lower() == ".npy":
                array = np.load(path, allow_pickle=False)
            else:
                with Image.open(path) as image:
                    array = _pil_array(image)
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise InputError(f"cannot read image ({exc}): copy it again, or convert it to PNG", path) from exc
        if array.ndim == 2:
            return array[None].astype(np.float32)
        if array.shape[-1] in (1, 3, 4):
            return np.moveaxis(array[..., :3], -1, 0).astype(np.float32)
        return array.astype(np.float32)
