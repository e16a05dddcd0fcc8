"""Videos (MP4, MOV, MKV, WebM, AVI) read with imageio's ffmpeg plugin: one video file or a
folder of them (sorted by name). Each video is sampled evenly to `num_frames` frames, giving an
item (C, T, H, W) = (3, num_frames, H, W), as Cosmos's `extract_from_video` samples them."""
from __future__ import annotations

from pathlib import Path

import imageio.v2 as imageio
import numpy as np

from ..arrays import unique
from ..errors import InputError
from ._files import FilesReader
from .base import SourceInfo, register

EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi")


def _has_video_magic(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(12)
    return (head[4:8] == b"ftyp"  # ISO media: MP4, MOV, M4V
            or head[:4] == b"\x1a\x45\xdf\xa3"  # Matroska, WebM
            or (head[:4] == b"RIFF" and head[8:12] == b"AVI "))


def video_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in EXTENSIONS and not p.name.startswith("."))


def sample_indices(n_frames: int, num_frames: int) -> np.ndarray:
    """`num_frames` frame numbers spread evenly from the first to the last frame (repeats when short)."""
    return np.linspace(0, n_frames - 1, num_frames).round().astype(np.int64)


@register
class VideoReader(FilesReader):
    format_name = "video"
    title = "videos"
    extensions = (*EXTENSIONS, "")
    description = "a video or a folder of videos, each sampled evenly to num_frames frames; items (C, T, H, W)"

    @classmethod
    def sniff(cls, path):
        if path.is_dir():
            files = video_files(path)
            return bool(files) and _has_video_magic(files[0])
        return path.is_file() and _has_video_magic(path)

    def __init__(self, path, num_frames: int = 16):
        super().__init__(path)
        if int(num_frames) < 1:
            raise InputError(f"num_frames must be at least 1, got {num_frames}")
        self.num_frames = int(num_frames)
        self.files = video_files(self.path) if self.path.is_dir() else [self.path]
        if not self.files:
            raise InputError(f"no video files in the folder: put {', '.join(EXTENSIONS)} files in it", self.path)
        sizes = [self._size_of(p) for p in self.files]
        for file, size in zip(self.files, sizes):
            if size != sizes[0]:
                raise InputError(f"video {file.name!r} is {size[1]}x{size[0]} (WxH) but {self.files[0].name!r} is "
                                 f"{sizes[0][1]}x{sizes[0][0]}: all videos must have the size of the first; resize "
                                 "them", self.path)
        self._info = SourceInfo(path=str(self.path), format=self.format_name,
                                partitions={"all": len(self.files)},
                                item_shape=(3, self.num_frames, *sizes[0]), dtype="uint8",
                                extra={"num_frames": self.num_frames, "files": [p.name for p in self.files[:1000]]})

    def _open(self, path: Path):
        try:
            return imageio.get_reader(path, format="FFMPEG")
        except Exception as exc:  # imageio raises OSError, RuntimeError or IndexError for bad files
            raise InputError(f"cannot read video ({exc}): copy it again, or convert it with ffmpeg", path) from exc

    def _size_of(self, path: Path) -> tuple[int, int]:
        with self._open(path) as reader:
            width, height = reader.get_meta_data()["size"]
        return int(height), int(width)

    def _load(self, path: Path) -> np.ndarray:
        """(3, T, H, W): decode once, front to back, keeping the sampled frames."""
        with self._open(path) as reader:
            n_frames = reader.count_frames()
            wanted = sample_indices(n_frames, self.num_frames)
            kept, wanted_set = {}, set(wanted.tolist())
            for number, frame in enumerate(reader):
                if number in wanted_set:
                    kept[number] = frame[..., :3]
                if number >= wanted[-1]:
                    break
        if n_frames < 1 or len(kept) < len(unique(wanted)):
            raise InputError(f"video has {n_frames} frames by count but only {len(kept)} decoded: copy it again, or "
                             "convert it with ffmpeg", path)
        frames = np.stack([kept[i] for i in wanted])  # (T, H, W, C)
        return np.transpose(frames, (3, 0, 1, 2)).astype(np.float32)
