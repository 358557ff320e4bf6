"""Make Tests/Fixtures/data/: small, deterministic data files for gen's data-loading tests.

It writes good and bad inputs for every reader gen has:
  * HDF5 (.h5): good files in several layouts (NHW, NCHW, NHWC in a group, chunked + gzip, float64,
    string attributes) and bad ones (not HDF5, truncated, string / compound / int64 / empty data,
    rank 1 and rank 5, two candidate image sets, an external link that must be refused).
  * PNG: gray and RGB images, a truncated file, garbage after the signature, a header that claims a
    100000 x 100000 image, and a folder of PNGs with a non-PNG file that must be ignored.
  * MNIST IDX (plain and gzip), including a bad magic number and a short file.
  * CSV (Kaggle style with a header, label-last without a header, gzip'd, ragged).
  * NPY (uint8, float32 NCHW, int64 labels).
  * safetensors written by Python (safetensors.numpy.save_file) with metadata.

Pixel values come from pattern(shape) = ((arange(prod(shape)) * 37 + 11) % 256) as uint8.
Nothing is random except garbage.png's tail (np.random.default_rng(0)); the output is byte-for-byte
reproducible (HDF5 timestamps are off, gzip mtime is 0, safetensors metadata keys are sorted after saving).

Requires: h5py, numpy, pillow, safetensors.
Run from the repo root:
    ~/venv-torch/bin/python Tests/Fixtures/make_data_fixtures.py

To check that a safetensors file written by gen loads in Python (makes no fixtures):
    ~/venv-torch/bin/python Tests/Fixtures/make_data_fixtures.py --check-gen-safetensors PATH
"""
import argparse
import gzip
import os
import struct
import sys
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "data")


def pattern(shape):
    n = int(np.prod(shape, dtype=np.int64))
    return ((np.arange(n, dtype=np.int64) * 37 + 11) % 256).astype(np.uint8).reshape(shape)


def path(*parts):
    return os.path.join(OUT, *parts)


def write_bytes(name, data):
    with open(path(name), "wb") as f:
        f.write(data)


def read_bytes(name):
    with open(path(name), "rb") as f:
        return f.read()


def gzip_copy(name):
    write_bytes(name + ".gz", gzip.compress(read_bytes(name), compresslevel=9, mtime=0))


# ---------------------------------------------------------------------------------------------- HDF5


def h5_file(name):
    import h5py

    return h5py.File(path(name), "w", libver="earliest", track_order=False)


def h5_dataset(parent, name, data=None, **kwargs):
    return parent.create_dataset(name, data=data, track_times=False, **kwargs)


def make_hdf5():
    import h5py

    # Good files.
    with h5_file("nhw_uint8.h5") as f:
        h5_dataset(f, "images", pattern([6, 5, 7]))
        h5_dataset(f, "labels", np.arange(6, dtype=np.int64))

    with h5_file("nchw_float32.h5") as f:
        h5_dataset(f, "x", (pattern([4, 3, 5, 6]) / 255.0).astype(np.float32))

    with h5_file("nhwc_float32.h5") as f:
        g = f.create_group("data", track_order=False)
        h5_dataset(g, "images", (pattern([4, 5, 6, 3]) / 255.0).astype(np.float32))
        h5_dataset(g, "labels", np.array([3, 1, 4, 1], dtype=np.uint8))

    with h5_file("chunked_gzip.h5") as f:
        h5_dataset(f, "images", pattern([50, 8, 8]), chunks=(7, 8, 8), compression="gzip", compression_opts=4)
        h5_dataset(f, "labels", (np.arange(50) % 10).astype(np.int32))

    # h5py's own fast filter: the same images and labels as chunked_gzip.h5, LZF-compressed
    with h5_file("chunked_lzf.h5") as f:
        h5_dataset(f, "images", pattern([50, 8, 8]), chunks=(7, 8, 8), compression="lzf")
        h5_dataset(f, "labels", (np.arange(50) % 10).astype(np.int32))
    # the same file with its filter's id changed from LZF's 32000 to 32001, a filter no one has
    data = bytearray(read_bytes("chunked_lzf.h5"))
    name = data.find(b"lzf\x00")
    at = data.rfind(bytes([0x00, 0x7D]), name - 16, name)
    assert name > 0 and at > 0, "the LZF filter's id was not found"
    data[at] = 0x01
    write_bytes("unknown_filter.h5", bytes(data))

    with h5_file("float64_signed.h5") as f:
        d = h5_dataset(f, "images", pattern([3, 1, 4, 4]).astype(np.float64) / 255.0 * 2.0 - 1.0)
        d.attrs["range"] = np.array([-1.0, 1.0], dtype=np.float64)

    with h5_file("two_image_sets.h5") as f:  # ambiguous on purpose: two candidate image sets
        h5_dataset(f, "a", pattern([3, 4, 4]))
        h5_dataset(f, "b", pattern([3, 4, 4]))

    with h5_file("nhw_uint8_attrs.h5") as f:
        d = h5_dataset(f, "images", pattern([6, 5, 7]))
        d.attrs["layout"] = "NHW"  # variable-length UTF-8 string attribute
        h5_dataset(f, "labels", np.arange(6, dtype=np.int64))

    # Labels a class-conditional run refuses, each beside 40 good 8×8 images (gen train --conditional).
    def labelled(name, labels):
        with h5_file(name) as f:
            h5_dataset(f, "images", pattern([40, 8, 8]))
            h5_dataset(f, "labels", labels)

    good = (np.arange(40) % 4).astype(np.int64)
    negative = good.copy()
    negative[7] = -1
    labelled("labels_negative.h5", negative)
    labelled("labels_float.h5", good.astype(np.float32))
    labelled("labels_short.h5", good[:39])
    labelled("labels_twelve_classes.h5", (np.arange(40) % 12).astype(np.int64))

    # Bad files.
    write_bytes("not_hdf5.h5", b"this is not an HDF5 file\n")

    whole = read_bytes("chunked_gzip.h5")
    write_bytes("truncated.h5", whole[: len(whole) // 2])

    with h5_file("strings.h5") as f:
        h5_dataset(f, "images", np.array(["a", "bb", "ccc"], dtype=object), dtype=h5py.string_dtype())

    with h5_file("compound.h5") as f:
        c = np.zeros(4, dtype=[("a", "<i4"), ("b", "<f4")])
        c["a"] = np.arange(4)
        c["b"] = np.arange(4) * 0.5
        h5_dataset(f, "images", c)

    with h5_file("rank1.h5") as f:
        h5_dataset(f, "images", pattern([10]))

    with h5_file("rank5.h5") as f:
        h5_dataset(f, "images", pattern([2, 1, 3, 4, 4]))

    with h5_file("empty.h5") as f:
        h5_dataset(f, "images", np.zeros((0, 4, 4), dtype=np.uint8))

    with h5_file("int64_images.h5") as f:
        h5_dataset(f, "images", pattern([2, 4, 4]).astype(np.int64))

    with h5_file("external_link.h5") as f:  # a reader that follows external links would find data; gen must refuse
        f["images"] = h5py.ExternalLink("nhw_uint8.h5", "/images")

    # Float images that are not what they claim: gen must refuse them, not train on them.
    floats = (pattern([16, 8, 8]) / 255.0).astype(np.float32)
    with h5_file("float_0_255.h5") as f:  # 0-255 values stored as floats without a `range` attribute
        h5_dataset(f, "images", pattern([16, 8, 8]).astype(np.float32))
    for name, value in [("range_equal", np.array([0.5, 0.5])), ("range_reversed", np.array([255.0, 0.0])),
                        ("range_nan", np.array([0.0, np.nan])), ("range_three", np.array([0.0, 0.5, 1.0])),
                        ("range_string", "0,1")]:
        with h5_file(f"float_{name}.h5") as f:
            d = h5_dataset(f, "images", floats)
            d.attrs["range"] = value
    with h5_file("float_all_nan.h5") as f:
        h5_dataset(f, "images", np.full((16, 8, 8), np.nan, dtype=np.float32))
    with h5_file("float_inf_pixel.h5") as f:
        with_inf = floats.copy()
        with_inf[9, 3, 4] = np.inf
        h5_dataset(f, "images", with_inf)


# ----------------------------------------------------------------------------------------------- PNG


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_png():
    from PIL import Image

    Image.fromarray(pattern([3, 5])).save(path("gray_5x3.png"))
    Image.fromarray(pattern([3, 4, 3])).save(path("rgb_4x3.png"))

    write_bytes("truncated.png", read_bytes("rgb_4x3.png")[:40])

    tail = np.random.default_rng(0).integers(0, 256, 200, dtype=np.uint8).tobytes()
    write_bytes("garbage.png", PNG_SIGNATURE + tail)

    # Structurally valid PNG whose header claims a 100000 x 100000 8-bit gray image (10 GB of pixels).
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0)
    write_bytes(
        "huge_header.png",
        PNG_SIGNATURE
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 10))
        + png_chunk(b"IEND", b""),
    )

    folder = path("png_folder")
    os.makedirs(folder, exist_ok=True)
    images = pattern([3, 4, 4])
    for i in range(3):
        Image.fromarray(images[i]).save(os.path.join(folder, f"img_{i}.png"))
    with open(os.path.join(folder, "notes.txt"), "w", newline="\n") as f:
        f.write("not an image")


# ----------------------------------------------------------------------------------------------- IDX


def idx(magic, dims, data):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)


def make_idx():
    images = pattern([3, 4, 5]).tobytes()
    write_bytes("tiny-images-idx3-ubyte", idx(0x00000803, [3, 4, 5], images))
    write_bytes("tiny-labels-idx1-ubyte", idx(0x00000801, [3], [7, 2, 1]))
    gzip_copy("tiny-images-idx3-ubyte")
    gzip_copy("tiny-labels-idx1-ubyte")
    write_bytes("bad-magic-idx3-ubyte", idx(0x00000903, [3, 4, 5], images))
    write_bytes("short-idx3-ubyte", idx(0x00000803, [3, 4, 5], images[:30]))


# ----------------------------------------------------------------------------------------------- CSV


def write_text(name, lines):
    with open(path(name), "w", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


def make_csv():
    pixels = pattern([3, 16])
    labels = [5, 0, 4]
    header = "label," + ",".join(f"pixel{i}" for i in range(16))

    def row(values):
        return ",".join(str(int(v)) for v in values)

    write_text("kaggle.csv", [header] + [row([labels[i]] + list(pixels[i])) for i in range(3)])
    write_text("label_last.csv", [row(list(pixels[i]) + [labels[i]]) for i in range(3)])
    gzip_copy("label_last.csv")
    ragged = [row([labels[i]] + list(pixels[i])) for i in range(2)] + [row([labels[2]] + list(pixels[2][:15]))]
    write_text("ragged.csv", [header] + ragged)


# ----------------------------------------------------------------------------------------------- NPY


def make_npy():
    np.save(path("images_uint8.npy"), pattern([3, 4, 5]))
    np.save(path("images_float32_nchw.npy"), (pattern([2, 1, 3, 3]) / 255.0).astype(np.float32))
    np.save(path("labels.npy"), np.array([7, 2, 1], dtype=np.int64))


# ------------------------------------------------------------------------------------------ safetensors


def make_safetensors():
    from safetensors.numpy import save_file

    tensors = {
        "a": (np.arange(6, dtype=np.float32) / 2).reshape(2, 3),
        "b": np.array([1, -2, 0.5, 65504], dtype=np.float16),
        "c": np.array(3.25, dtype=np.float64),
        "empty": np.zeros((0, 2), dtype=np.float32),
    }
    out = path("python_written.safetensors")
    save_file(tensors, out, metadata={"format": "np", "note": "made by make_data_fixtures.py"})
    canonicalize_safetensors_metadata(out)


def canonicalize_safetensors_metadata(file):
    """Sort the __metadata__ keys in the header, in place.

    safetensors keeps metadata in a Rust HashMap, so save_file writes its keys in a random order from run
    to run. Reordering them keeps the header the same length (same keys and values), so tensor order,
    data offsets and data bytes stay exactly as save_file wrote them, and the file becomes reproducible.
    """
    import json

    with open(file, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])  # dicts keep the tensor order save_file chose
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":")).encode()
    assert len(text) <= n, "canonical header must not grow"
    text += b" " * (n - len(text))  # safetensors pads the header with spaces
    with open(file, "wb") as f:
        f.write(raw[:8] + text + raw[8 + n :])


# ------------------------------------------------------------------------------------------- checking


def check_gen_safetensors(file):
    try:
        from safetensors import safe_open
        from safetensors.numpy import load_file

        tensors = load_file(file)
        with safe_open(file, framework="np") as f:
            metadata = f.metadata()
    except Exception as e:  # noqa: BLE001 - report any failure to load
        print(f"failed to load {file}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"{file}: {len(tensors)} tensor(s)")
    for name in sorted(tensors):
        t = tensors[name]
        total = float(t.astype(np.float64).sum()) if t.dtype.kind in "fiub" else t.sum()
        print(f"  {name}: dtype={t.dtype} shape={list(t.shape)} sum={total}")
    print(f"metadata: {dict(sorted(metadata.items())) if metadata else metadata}")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check-gen-safetensors", metavar="PATH",
                        help="load PATH in Python and print its tensors and metadata; make no fixtures")
    args = parser.parse_args()
    if args.check_gen_safetensors is not None:
        return check_gen_safetensors(args.check_gen_safetensors)

    os.makedirs(OUT, exist_ok=True)
    make_hdf5()
    make_png()
    make_idx()
    make_csv()
    make_npy()
    make_safetensors()
    for root, _, files in sorted(os.walk(OUT)):
        for name in sorted(files):
            p = os.path.join(root, name)
            print(f"{os.path.getsize(p):8d}  {os.path.relpath(p, HERE)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
