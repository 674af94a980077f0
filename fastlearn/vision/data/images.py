"""Decoding one image file to an RGB array of a fixed size, refusing bad files one by one."""
from __future__ import annotations

import errno
import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from fastlearn.vision.data.items import is_utf8_name, printable

__all__ = ["BadImageError", "UnreadableFileError", "decode", "decode_bytes", "open_rgb", "load_resized", "resize_square", "to_rgb_image", "MAX_PIXELS"]

# Pillow's own default bomb limit; we enforce it per file instead of process-wide.
MAX_PIXELS = 178_956_970


class BadImageError(OSError):
    """A file that carries an image extension but cannot be used as an image."""

    def __init__(self, path: Path | str, reason: str):
        super().__init__(f"{printable(path)}: {reason}")
        self.path = Path(path)
        self.reason = reason


class UnreadableFileError(BadImageError):
    """A file that could not be read this time (permissions, an I/O error): left out of this
    run but not remembered as bad, since it may read fine once the cause is fixed."""


# errors that say the entry itself can never be read as a file, whatever is done to its permissions
_PERMANENT = {errno.ELOOP: "symbolic link loop (too many levels of symbolic links)",
              errno.ENOENT: "broken symbolic link (its target does not exist)",
              errno.EISDIR: "a folder, not a file", errno.ENOTDIR: "broken path (a part of it is not a folder)"}


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; transparency is composited on white."""
    if im.mode == "RGB":
        return im
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(im, dtype=np.float32)
        hi = 65535.0 if im.mode.startswith("I") and arr.max(initial=0) > 255 else 255.0
        if im.mode == "F" and arr.max(initial=0) <= 1.0:
            hi = 1.0
        arr = np.clip(arr * (255.0 / hi), 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        im.mode in ("P", "L", "RGB") and "transparency" in im.info
    )
    if has_alpha:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


def open_rgb(path: str | Path) -> Image.Image:
    """Open, fully decode and orient an image as RGB; raise BadImageError naming the file."""
    return decode(path)[0]


def decode(
    path: str | Path, draft_size: int | None = None, max_pixels: int = MAX_PIXELS
) -> tuple[Image.Image, tuple[int, int]]:
    """Decode and orient an image as RGB; return it with its original (height, width).

    Raises BadImageError naming the file for anything unusable, bombs included.

    `draft_size` lets JPEG decode at a reduced scale (DCT scaling) when the result will be
    resized to at least that many pixels on its short side anyway: much faster for big photos.
    """
    path = Path(path)
    if not is_utf8_name(path):
        raise BadImageError(path, "the file name is not valid UTF-8; rename it (e.g. with `convmv` or by hand) "
                            "to include it")
    try:
        f = open(path, "rb")
    except OSError as e:
        if e.errno == errno.ENOENT and not os.path.islink(path):
            raise BadImageError(path, "no such file") from None
        if e.errno in _PERMANENT:
            raise BadImageError(path, _PERMANENT[e.errno]) from None
        raise UnreadableFileError(path, f"could not be read ({e.strerror or e}); fix it (e.g. chmod a+r) "
                                  "and it is used on the next run") from None
    with f:
        return _decode_stream(f, path, draft_size, max_pixels)


def _decode_stream(f, name: Path | str, draft_size: int | None, max_pixels: int) -> tuple[Image.Image, tuple[int, int]]:
    """`decode` of an open binary file or buffer; `name` is what errors call it."""
    try:
        f.seek(0, os.SEEK_END)
        size_on_disk = f.tell()
        f.seek(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(f)
            w, h = im.size  # from the header: nothing is decoded before the pixel limit is checked
            if w * h > max_pixels:
                raise BadImageError(name, f"{w}x{h} pixels is over the limit of {max_pixels}: refused before decoding "
                                    "(a decompression bomb, or an image far larger than the model needs)")
            im.seek(0)  # first frame of animations
            if draft_size and im.format == "JPEG":
                scale = min(w, h) / draft_size
                if scale >= 2:
                    im.draft("RGB", (int(w / scale), int(h / scale)))
            swapped = _exif_swaps_axes(im)
            im.load()
            im = ImageOps.exif_transpose(im)
            return _to_rgb(im), ((w, h) if swapped else (h, w))
    except BadImageError:
        raise
    except Image.DecompressionBombError as e:
        raise BadImageError(name, f"decompression bomb refused ({_plain(e)})") from None
    except (OSError, ValueError, SyntaxError, EOFError, Image.UnidentifiedImageError) as e:
        if isinstance(e, OSError) and e.errno is not None:  # the OS failed to read it, not the decoder
            raise UnreadableFileError(name, f"could not be read ({e.strerror or e}); it is used on the next "
                                      "run that can read it") from None
        if size_on_disk == 0:
            reason = "empty file (0 bytes)"
        elif isinstance(e, Image.UnidentifiedImageError):
            reason = "not an image (cannot identify the format; an HTML page or another file saved with an image extension?)"
        else:
            reason = f"corrupt or truncated image ({_plain(e)})"
        raise BadImageError(name, reason) from None


def _plain(e: Exception) -> str:
    """An exception's message without object addresses (`<_io.BytesIO object at 0x...>`)."""
    import re
    return re.sub(r"\s*<[^<>]* at 0x[0-9a-fA-F]+>", "", str(e)).strip() or type(e).__name__


def load_resized(path: str | Path, size: int, method: str = "crop",
                 max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray, tuple[int, int]]:
    """Decode `path` and return a (size, size, 3) uint8 array plus the original (height, width)."""
    im, original_hw = decode(path, draft_size=size, max_pixels=max_pixels)
    return resize_square(im, size, method), original_hw


def resize_square(im: Image.Image, size: int, method: str = "crop") -> np.ndarray:
    """An RGB image as a (size, size, 3) uint8 array.

    `method="crop"` resizes the short side to `size` and keeps the centre (no distortion);
    `method="squish"` resizes the whole image to a square (keeps everything, changes the aspect).
    """
    w, h = im.size
    if method == "squish":
        out = im.resize((size, size), Image.BILINEAR, reducing_gap=2.0)
    elif method == "crop":
        s = size / min(w, h)
        nw, nh = max(size, round(w * s)), max(size, round(h * s))
        left, top = (nw - size) // 2, (nh - size) // 2
        # Resize only the central box: cheaper than resizing everything and cropping after.
        box = (left / s, top / s, (left + size) / s, (top + size) / s)
        out = im.resize((size, size), Image.BILINEAR, box=box, reducing_gap=2.0)
    else:
        raise ValueError(f"resize method must be 'crop' or 'squish', got {method!r}")
    return np.asarray(out, dtype=np.uint8)


def decode_bytes(data: bytes | bytearray | memoryview, name: str = "image", draft_size: int | None = None,
                 max_pixels: int = MAX_PIXELS) -> tuple[Image.Image, tuple[int, int]]:
    """`decode` for an encoded image in memory (an upload): the same checks, `name` in errors."""
    return _decode_stream(io.BytesIO(bytes(data)), name, draft_size, max_pixels)


def to_rgb_image(item, name: str = "image") -> Image.Image:
    """A file path, PIL image, encoded bytes or HxW / HxWxC array as an RGB PIL image."""
    if isinstance(item, (str, Path)):
        return open_rgb(item)
    if isinstance(item, Image.Image):
        return _to_rgb(ImageOps.exif_transpose(item))
    if isinstance(item, (bytes, bytearray, memoryview)):
        return decode_bytes(item, name)[0]
    if isinstance(item, np.ndarray):
        arr = item
        if arr.dtype != np.uint8:
            arr = np.clip(arr * (255 if arr.max(initial=0) <= 1.0 else 1), 0, 255).astype(np.uint8)
        if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (1, 3, 4)):
            return _to_rgb(Image.fromarray(arr.squeeze(-1) if arr.ndim == 3 and arr.shape[2] == 1 else arr))
        raise BadImageError(name, f"array of shape {arr.shape} is not an image (expected HxW, HxWx3 or HxWx4)")
    raise TypeError(f"cannot read an image from {type(item).__name__}; pass a path, PIL image, bytes or array")


def _exif_swaps_axes(im: Image.Image) -> bool:
    try:
        return im.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    except Exception:
        return False
