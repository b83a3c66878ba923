"""Where rendered frames go: a video (H.264, yuv420p, through imageio-ffmpeg) or a folder of PNG
frames, written atomically: into a temporary file or folder next to the target, renamed over it at
the end; anything that fails or is interrupted leaves nothing behind. Also the text stamp of a
time-lapse frame (the step, the seconds of training and the scene's headline metric)."""

from __future__ import annotations

import contextlib
import functools
import math
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from fieldscope.app.render.legend import font
from fieldscope.fields.errors import ConfigError, FieldscopeError
from fieldscope.fields.paths import plain_file_mode
from fieldscope.fields.training.trainer import Snapshot

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi")
#: Codecs that need even frame sides in yuv420p.
EVEN_SIDES = ("libx264", "libx265", "h264", "hevc", "mpeg4", "libvpx-vp9")


def is_folder_target(out: str) -> bool:
    """A target ending in a slash, an existing folder, or a name without a suffix: PNG frames."""
    path = Path(out)
    return out.endswith(("/", os.sep)) or path.is_dir() or not path.suffix


@functools.cache
def ffmpeg_encoders() -> frozenset[str]:
    """Names of the video encoders the bundled ffmpeg knows."""
    import imageio_ffmpeg  # lazy: only a video needs ffmpeg, not --help

    listing = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True, text=True, check=False
    ).stdout
    names = set()
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0].startswith("V"):
            names.add(parts[1])
    return frozenset(names)


def check_video_target(out: Path, codec: str, width: int, height: int) -> None:
    """One clear error for a video file this run could not write."""
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise ConfigError(f"{out}: unsupported video type {out.suffix}; use {', '.join(VIDEO_SUFFIXES)} or a folder/")
    if not out.parent.is_dir():
        raise FieldscopeError(f"{out}: the folder {out.parent} does not exist")
    if not os.access(out.parent, os.W_OK):
        raise FieldscopeError(f"{out}: the folder {out.parent} is not writable")
    if codec not in ffmpeg_encoders():
        raise ConfigError(f"{out}: unknown video codec {codec!r} (ffmpeg has no such encoder; try libx264)")
    if codec in EVEN_SIDES and (width % 2 or height % 2):
        raise ConfigError(f"{out}: {codec} in yuv420p needs an even width and height, not {width}x{height}")


class FrameSink:
    """Frames (H, W, 3) uint8 -> a video file or a folder of PNGs, renamed into place by `finish`;
    `discard` (or leaving a `with` block by an exception) removes what was written."""

    def __init__(self, out: str, width: int, height: int, fps: float, codec: str = "libx264") -> None:
        self.folder = is_folder_target(out)
        self.target = Path(out.rstrip("/" + os.sep) if self.folder else out).expanduser()
        self.count = 0
        self.writer: Any = None
        parent = self.target.parent
        if self.folder:
            if not parent.is_dir():
                raise FieldscopeError(f"{out}: the folder {parent} does not exist")
            if self.target.exists() and (not self.target.is_dir() or any(self.target.iterdir())):
                raise FieldscopeError(f"{out}: already exists and is not an empty folder")
            try:
                self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", dir=parent))
            except OSError as error:
                raise FieldscopeError(f"{out}: could not write ({error.strerror or error})") from None
            return
        check_video_target(self.target, codec, width, height)
        import imageio.v2 as imageio  # lazy: ~70 ms to import, only for a video, not --help

        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.target.stem}.", suffix=self.target.suffix, dir=parent)
            os.close(fd)
        except OSError as error:
            raise FieldscopeError(f"{out}: could not write ({error.strerror or error})") from None
        self.tmp = Path(tmp)
        self.writer = imageio.get_writer(
            tmp,
            format="FFMPEG",
            fps=fps,
            codec=codec,
            pixelformat="yuv420p",
            quality=9,
            macro_block_size=1,
            ffmpeg_log_level="error",
        )

    def add(self, frame: np.ndarray) -> None:
        """Append one frame (H, W, 3) uint8."""
        if self.folder:
            import imageio.v3 as iio  # lazy: ~70 ms to import, only for frames, not --help

            iio.imwrite(self.tmp / f"frame_{self.count:05d}.png", frame)
        else:
            self.writer.append_data(frame)
        self.count += 1

    def finish(self) -> Path:
        """Close and rename into place; returns the target."""
        if self.folder:
            if self.target.exists():
                self.target.rmdir()  # empty (checked when opening)
            os.chmod(self.tmp, 0o755)
            os.replace(self.tmp, self.target)
        else:
            self.writer.close()
            self.writer = None
            os.chmod(self.tmp, plain_file_mode())
            os.replace(self.tmp, self.target)
        return self.target

    def discard(self) -> None:
        if self.writer is not None:
            with contextlib.suppress(Exception):  # a broken encoder: the file goes anyway
                self.writer.close()
            self.writer = None
        if self.tmp.is_dir():
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> FrameSink:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is not None:
            self.discard()


def headline_metric(task: str) -> str:
    """The metric a time-lapse frame is stamped with (and `fit`'s progress bar shows) for a scene task."""
    return "psnr" if task in ("image", "volume", "nerf", "surface") else "iou"


def stamp_text(snapshot: Snapshot, headline: str) -> str:
    """'step 40  12.3 s  PSNR 24.5' of a snapshot."""
    value = snapshot.metrics.get(headline, math.nan)
    shown = f"{value:.4g}" if math.isfinite(value) else "(not measured yet)"
    return f"step {snapshot.step}  {snapshot.elapsed:.1f} s  {headline.upper()} {shown}"


def stamp(frame: np.ndarray, text: str) -> np.ndarray:
    """The frame (H, W, 3) uint8 with `text` in white on a dark band along its top (STAMP rows)."""
    height = stamp_height(frame.shape[0])
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, frame.shape[1], height), fill=(16, 16, 16))
    draw.text((4, 1), text, fill=(255, 255, 255), font=font(max(8, height - 4)))
    return np.asarray(image)


def stamp_height(frame_height: int) -> int:
    """Rows the stamp band takes in a frame of this height."""
    return max(10, min(24, frame_height // 12))
