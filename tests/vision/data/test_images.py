"""Decoding every format and mode to RGB, and refusing bad files one by one."""
import io

import numpy as np
import pytest
from PIL import Image

from fastlearn.vision.data.images import BadImageError, MAX_PIXELS, decode, load_resized, open_rgb

RED = (200, 30, 40)


def solid(mode="RGB", colour=RED, size=(40, 30)):
    return Image.new("RGB", size, colour).convert(mode)


@pytest.mark.parametrize("ext,kw", [
    (".jpg", {"quality": 95}), (".png", {}), (".bmp", {}), (".webp", {"lossless": True}),
    (".tif", {}), (".gif", {}),
])
def test_every_format_decodes_to_rgb(tmp_path, ext, kw):
    path = tmp_path / f"x{ext}"
    solid().save(path, **kw)
    im = open_rgb(path)
    assert im.mode == "RGB" and im.size == (40, 30)
    centre = np.asarray(im)[15, 20].astype(int)
    # GIF quantises to a palette and JPEG is lossy: allow a little.
    assert np.abs(centre - RED).max() <= 12


def test_grayscale_palette_and_cmyk_become_rgb(tmp_path):
    for mode in ("L", "P", "CMYK"):
        path = tmp_path / f"{mode}.{'jpg' if mode == 'CMYK' else 'png'}"
        solid(mode).save(path)
        arr = np.asarray(open_rgb(path))
        assert arr.shape == (30, 40, 3), mode
    gray = np.asarray(open_rgb(tmp_path / "L.png"))
    assert (gray[..., 0] == gray[..., 1]).all()


def test_transparency_is_composited_on_white(tmp_path):
    rgba = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    rgba.putpixel((5, 5), (0, 0, 255, 255))
    rgba.save(tmp_path / "a.png")
    arr = np.asarray(open_rgb(tmp_path / "a.png"))
    assert tuple(arr[0, 0]) == (255, 255, 255)  # fully transparent: white, not black
    assert tuple(arr[5, 5]) == (0, 0, 255)


def test_16_bit_scales_to_8_bit(tmp_path):
    arr16 = np.array([[0, 32768, 65535]], dtype=np.uint16)
    Image.fromarray(arr16).save(tmp_path / "deep.png")
    out = np.asarray(open_rgb(tmp_path / "deep.png"))[0, :, 0]
    assert out[0] == 0 and 126 <= out[1] <= 129 and out[2] == 255


def test_gif_first_frame(tmp_path):
    frames = [solid(colour=(255, 0, 0)), solid(colour=(0, 255, 0))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    r, g, _ = np.asarray(open_rgb(tmp_path / "anim.gif"))[0, 0]
    assert r > 200 and g < 50


def test_exif_orientation_is_applied(tmp_path):
    im = Image.new("RGB", (40, 20), (0, 0, 0))
    im.paste((255, 255, 255), (0, 0, 10, 20))  # white band on the left
    exif = im.getexif()
    exif[0x0112] = 6  # camera held rotated: display turned 90 degrees clockwise
    im.save(tmp_path / "turned.jpg", exif=exif, quality=95)
    out, (h, w) = decode(tmp_path / "turned.jpg")
    assert out.size == (20, 40) and (h, w) == (40, 20)
    arr = np.asarray(out).mean(axis=2)
    assert arr[:10].mean() > 200 and arr[-10:].mean() < 50  # the band is now on top


@pytest.mark.parametrize("content,reason", [
    (b"", "empty file"),
    (b"<!DOCTYPE html><html><body>Not found</body></html>", "not an image"),
])
def test_non_images_with_image_extension_are_named(tmp_path, content, reason):
    path = tmp_path / "fake.jpg"
    path.write_bytes(content)
    with pytest.raises(BadImageError) as e:
        open_rgb(path)
    assert str(path) in str(e.value) and reason in e.value.reason


def test_truncated_jpeg_is_refused(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(buf, "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(BadImageError, match="truncated"):
        open_rgb(path)


def test_decompression_bomb_refused_per_file_not_process_wide(tmp_path):
    side = int(MAX_PIXELS ** 0.5) + 200
    Image.new("1", (side, side)).save(tmp_path / "bomb.png")
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(BadImageError, match="decompression bomb"):
        open_rgb(tmp_path / "bomb.png")
    assert Image.MAX_IMAGE_PIXELS == before
    solid().save(tmp_path / "fine.png")
    assert open_rgb(tmp_path / "fine.png").size == (40, 30)


def test_load_resized_crop_keeps_centre_and_squish_keeps_all(tmp_path):
    im = Image.new("RGB", (300, 100), (0, 0, 255))
    im.paste((255, 0, 0), (100, 0, 200, 100))  # red middle third
    im.save(tmp_path / "wide.png")
    crop, hw = load_resized(tmp_path / "wide.png", 50, "crop")
    squish, _ = load_resized(tmp_path / "wide.png", 50, "squish")
    assert crop.shape == squish.shape == (50, 50, 3) and hw == (100, 300)
    assert (crop[..., 0] > 200).mean() > 0.95  # only the red centre remains
    assert 0.25 < (squish[..., 0] > 200).mean() < 0.4  # all three thirds remain


def test_big_jpeg_decodes_at_reduced_scale_with_original_size_reported(tmp_path):
    Image.fromarray(np.full((1200, 1600, 3), 128, np.uint8)).save(tmp_path / "big.jpg")
    arr, hw = load_resized(tmp_path / "big.jpg", 64)
    assert arr.shape == (64, 64, 3) and hw == (1200, 1600)
