"""Pictures as users have them: hypothesis generates folders of good, odd and broken files (random bytes
with image names, truncated PNG/JPEG, 16-bit, CMYK, palette and LA images, EXIF-rotated JPEGs, animated
GIF/WebP, 1 x 1 and very wide pictures, empty files, names with spaces and non-ASCII letters). Every
unreadable file is named in one warning line and skipped, every readable one is used with the right
pixels, nothing crashes; and a large folder is read a batch at a time while it is inverted."""

from __future__ import annotations

import contextlib
import io
import json
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf
from PIL import Image

from conftest import run_task
from latentcli.data.image_folder import find_images, load_image_folder, read_batches
from latentcli.errors import UserError
from latentcli.tasks import inputs as inputs_module

# kind -> (suffix, how far the pixels read may be from the grey level written, in 8-bit steps)
READABLE = {
    "png_L": (".png", 1), "png_RGB": (".png", 1), "png_RGBA": (".png", 1), "png_LA": (".png", 1),
    "png_P": (".png", 1), "png_P_transparency": (".png", 1), "png_16bit": (".png", 1), "png_1bit": (".png", 1),
    "jpeg_L": (".jpg", 3), "jpeg_RGB": (".jpeg", 3), "jpeg_CMYK": (".jpg", 3), "jpeg_EXIF_rotated": (".jpg", 3),
    "jpeg_named_png": (".png", 3), "gif_animated": (".gif", 1), "webp": (".webp", 1),
    "webp_animated": (".webp", 1),
}
UNREADABLE = {"random_bytes": (".png", ".jpg", ".jpeg", ".webp", ".gif"), "zero_bytes": (".png", ".jpg"),
              "truncated_png": (".png",), "truncated_jpeg": (".jpg",), "png_header_of_a_giant": (".png",)}
SIZES = st.one_of(st.tuples(st.integers(1, 6), st.integers(1, 6)),
                  st.sampled_from([(1, 1), (3000, 1), (1, 700), (2000, 3)]))
NAMES = st.one_of(st.sampled_from(["photo", "my photo", "café crème", "фото", "写真 1", " lead and trail ", "a.b"]),
                  st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"),
                          min_size=1, max_size=12))


def encode(kind: str, level: int, size: tuple[int, int], orientation: int = 6) -> bytes:
    """A picture of one grey level in the given format and mode, as the bytes of its file."""
    out = io.BytesIO()
    grey = Image.new("L", size, level)
    if kind == "png_L":
        grey.save(out, "PNG")
    elif kind in ("png_RGB", "jpeg_RGB"):
        Image.new("RGB", size, (level,) * 3).save(out, "PNG" if kind == "png_RGB" else "JPEG", quality=95)
    elif kind == "png_RGBA":
        Image.new("RGBA", size, (level, level, level, 255)).save(out, "PNG")
    elif kind == "png_LA":
        Image.new("LA", size, (level, 255)).save(out, "PNG")
    elif kind in ("png_P", "png_P_transparency"):
        image = Image.new("P", size, 0)
        image.putpalette([level] * 3 + [255 - level] * 3 * 255)
        image.save(out, "PNG", **({"transparency": 1} if kind == "png_P_transparency" else {}))
    elif kind == "png_16bit":
        Image.fromarray(np.full(size[::-1], level * 257, dtype=np.uint16)).save(out, "PNG")
    elif kind == "png_1bit":
        grey.convert("1", dither=Image.Dither.NONE).save(out, "PNG")
    elif kind in ("jpeg_L", "jpeg_named_png"):
        grey.save(out, "JPEG", quality=95)
    elif kind == "jpeg_CMYK":
        Image.new("CMYK", size, (0, 0, 0, 255 - level)).save(out, "JPEG", quality=95)
    elif kind == "jpeg_EXIF_rotated":
        exif = Image.Exif()
        exif[0x0112] = orientation
        Image.new("RGB", size, (level,) * 3).save(out, "JPEG", quality=95, exif=exif.tobytes())
    elif kind in ("gif_animated", "webp_animated"):
        frames = [grey, Image.new("L", size, 255 - level), Image.new("L", size, level // 2)]
        options = {"lossless": True} if kind == "webp_animated" else {}
        frames[0].save(out, "GIF" if kind == "gif_animated" else "WEBP", save_all=True, append_images=frames[1:],
                       duration=50, **options)
    elif kind == "webp":
        Image.new("RGB", size, (level,) * 3).save(out, "WEBP", lossless=True)
    else:
        raise ValueError(kind)
    return out.getvalue()


def giant_png_header() -> bytes:
    """A valid PNG signature and header for 100,000 x 100,000 pixels: decoding it would take 10 GB."""
    def chunk(name: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + name + data + struct.pack(">I", zlib.crc32(name + data))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")


@st.composite
def files(draw):
    """One file: (kind, suffix, bytes, grey level or None where unreadable, sub-folder or '')."""
    level = draw(st.integers(0, 255))
    size = draw(SIZES)
    folder = draw(st.sampled_from(["", "", "sub folder", "ünïcode"]))
    if draw(st.integers(0, 2)) > 0:
        kind = draw(st.sampled_from(sorted(READABLE)))
        suffix = READABLE[kind][0]
        data = encode(kind, level, size, orientation=draw(st.integers(2, 8)))
        if kind == "png_1bit":
            level = 255 if level >= 128 else 0
        return kind, suffix, data, level, folder
    kind = draw(st.sampled_from(sorted(UNREADABLE)))
    suffix = draw(st.sampled_from(UNREADABLE[kind]))
    if kind == "random_bytes":
        data = draw(st.binary(min_size=1, max_size=300))
    elif kind == "zero_bytes":
        data = b""
    elif kind == "png_header_of_a_giant":
        data = giant_png_header()
    else:
        whole = encode("png_RGB" if kind == "truncated_png" else "jpeg_RGB", level, size)
        data = whole[:draw(st.integers(0, len(whole) // 2))]
    return kind, suffix, data, None, folder


def write_folder(root: Path, specs, names) -> tuple[dict[Path, tuple[int, int]], set[Path]]:
    """Writes the files; returns ({readable file: (its grey level, the tolerance)}, {unreadable files})."""
    readable, unreadable = {}, set()
    for i, ((kind, suffix, data, level, folder), name) in enumerate(zip(specs, names)):
        upper = i % 3 == 0  # suffixes in either case: .PNG as well as .png
        path = root / folder / f"{i:02d} {name}{suffix.upper() if upper else suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if level is None:
            unreadable.add(path)
        else:
            readable[path] = level, READABLE[kind][1]
    (root / "notes.txt").write_text("not a picture: neither read nor warned about")
    return readable, unreadable


def check_read(readable: dict[Path, int], batches, skipped: list[str], unreadable: set[Path], channels: int):
    kept = [f for _, files in batches for f in files]
    assert kept == sorted(readable), "every readable file used, in order"
    assert len(skipped) == len(unreadable) and all("\n" not in line for line in skipped)
    for path in unreadable:
        assert sum(line.startswith(f"warning: skipping unreadable image {path}: ") for line in skipped) == 1
    x = torch.cat([x for x, _ in batches]) if batches else torch.empty(0, channels, 8, 8)
    assert x.shape == (len(kept), channels, 8, 8)
    pixels = (x + 1) * 127.5
    for image, path in zip(pixels, kept):
        level, tolerance = readable[path]
        assert (image - level).abs().max() <= tolerance + 0.5, (path, level, image.min(), image.max())


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=st.lists(files(), min_size=0, max_size=7), data=st.data(), channels=st.sampled_from([1, 3]))
def test_generated_folders_read_everything_readable_and_name_the_rest(specs, data, channels):
    names = data.draw(st.lists(NAMES, min_size=len(specs), max_size=len(specs)))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        readable, unreadable = write_folder(root, specs, names)
        assert set(find_images(root)) == set(readable) | unreadable

        # what invert inputs=folder reads: batches of 3
        skipped: list[str] = []
        batches = list(read_batches(find_images(root), channels, 8, 3, skipped))
        assert all(len(x) == len(files) <= 3 for x, files in batches)
        check_read(readable, batches, skipped, unreadable, channels)

        # what dataset=image_folder reads
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            if len(readable) >= 2:
                bundle = load_image_folder(str(root), channels=channels, resolution=8)
                assert len(bundle.train) + len(bundle.test) == len(readable)
            else:
                with pytest.raises(UserError, match=r"readable image\(s\); at least 2|no PNG, JPEG, WebP or GIF"):
                    load_image_folder(str(root), channels=channels, resolution=8)
        warned = [line for line in err.getvalue().splitlines() if line.startswith("warning:")]
        assert len(warned) == (len(unreadable) if readable or unreadable else 0)


def test_exif_orientation_turns_the_picture_upright(tmp_path):
    # left half black, right half white, stored with orientation 6 ("turn 90 degrees clockwise to view")
    image = Image.new("L", (16, 8), 0)
    image.paste(255, (8, 0, 16, 8))
    exif = Image.Exif()
    exif[0x0112] = 6
    image.save(tmp_path / "rotated.jpg", "JPEG", quality=100, exif=exif.tobytes())
    (x, _), = read_batches([tmp_path / "rotated.jpg"], 1, 8, 8, [])
    top, bottom = x[0, 0, :2].mean(), x[0, 0, -2:].mean()  # upright: the left half became the top
    assert top < -0.9 and bottom > 0.9


def test_a_big_folder_is_read_a_batch_at_a_time_while_it_is_inverted(tmp_path, monkeypatch):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(300):
        Image.new("L", (3, 2), i % 256).save(folder / f"{i:05d}.png")
    monkeypatch.setattr(inputs_module, "FOLDER_BATCH", 64)
    from latentcli.data import image_folder

    reads = []
    real = image_folder.read_image
    monkeypatch.setattr(image_folder, "read_image", lambda *a: reads.append(a[0]) or real(*a))
    model = OmegaConf.create({"info": {"shape": [1, 8, 8]}})
    pictures = inputs_module.load_inputs(OmegaConf.create({"source": "folder", "path": str(folder)}), model)
    assert reads == []  # nothing read before it is asked for
    seen = 0
    for part in pictures.parts():  # each part is inverted and let go before the next is read
        assert len(part.x) <= 64 and len(reads) == seen + len(part.x)
        seen += len(part.x)
    assert seen == 300


@pytest.fixture(scope="module")
def odd_folder(tmp_path_factory):
    """One of everything: each readable kind at several sizes and names, and each unreadable kind."""
    root = tmp_path_factory.mktemp("odd")
    specs, names = [], []
    for i, kind in enumerate(sorted(READABLE)):
        for size in ((5, 4), (1, 1), (300, 2)):
            level = 255 if kind == "png_1bit" else 40 * (i % 6)
            specs.append((kind, READABLE[kind][0], encode(kind, level, size), level, "sub folder" if i % 2 else ""))
            names.append(f"{kind} é")
    for kind, data in (("random", b"\x00garbage"), ("zero", b""), ("giant", giant_png_header()),
                       ("truncated", encode("jpeg_RGB", 9, (6, 6))[:100])):
        specs.append((kind, ".jpg" if kind == "truncated" else ".png", data, None, ""))
        names.append(f"broken {kind}")
    readable, unreadable = write_folder(root, specs, names)
    return root, readable, unreadable


@pytest.mark.slow
def test_train_and_invert_a_folder_of_odd_pictures_end_to_end(odd_folder, tmp_path, capsys, monkeypatch):
    root, readable, unreadable = odd_folder
    run = tmp_path / "run"
    run_task("train", "model=bigan", "dataset=image_folder", f"dataset.path={root}", "dataset.channels=1",
             "dataset.resolution=16", "batch_size=8", "model.width=8", "trainer=debug", "trainer.max_steps=3",
             f"hydra.run.dir={run}")
    warned = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warned) == len(unreadable) == 4
    ckpt = f"ckpt={run}/checkpoints/last.ckpt"
    run_task("invert", ckpt, "inputs=folder", f"inputs.path={root}", "device=cpu", f"hydra.run.dir={tmp_path / 'one'}")
    monkeypatch.setattr(inputs_module, "FOLDER_BATCH", 7)  # the same folder in parts of 7
    run_task("invert", ckpt, "inputs=folder", f"inputs.path={root}", "device=cpu", f"hydra.run.dir={tmp_path / 'parts'}")
    err = capsys.readouterr().err
    assert sorted(line for line in err.splitlines() if line.startswith("warning:")) == sorted(warned * 2)
    one, parts = (torch.load(tmp_path / d / "latents.pt", weights_only=True) for d in ("one", "parts"))
    assert parts["ids"] == one["ids"] == [str(p) for p in sorted(readable)]
    assert torch.allclose(parts["z"], one["z"], atol=1e-6) and torch.allclose(parts["loss"], one["loss"], atol=1e-6)
    s_one, s_parts = (json.loads((tmp_path / d / "summary.json").read_text()) for d in ("one", "parts"))
    assert s_parts["n"] == s_one["n"] == len(readable)
    for key in ("loss_mean", "psnr", "ssim"):
        assert s_parts[key] == pytest.approx(s_one[key], rel=1e-5)
