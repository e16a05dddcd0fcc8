"""Issue 10's corpus: malformed, hostile and edge-case inputs through the CLI. Each is refused with
exit code 2 and one short line on stderr that names the file or argument and what to do next, no
traceback, no input changed and no `.partial` left behind. The files are built here from fixed seeds (real HDF5, real
checkpoints, real TorchScript archives, a real FIFO)."""
import json
import os
import stat
import zipfile

import h5py
import numpy as np
import pytest
import torch

from latentcore.analysis.maps import Roi
from latentcore.cli import build_parser, main
from latentcore.errors import MAX_LINE, InputError
from latentcore.demo import DEMO_SCAN
from latentcore.latents import LatentsWriter
from small_files import HEADER, PATTERNS, TEST_DATA, vae_checkpoint, write_scan
from next_steps import next_step

def write_latents(path, x=None, y=None, grid_shape=None, finished=True, rows=20, dim=3):
    writer = LatentsWriter(path, {"all": (rows, dim)}, {"test": 1})
    writer.write_rows("all", 0, np.random.default_rng(1).normal(size=(rows if finished else 5, dim)).astype("f4"))
    for name, values in (("x", x), ("y", y), ("grid_shape", grid_shape)):
        if values is not None:
            writer.write_array(name, values)
    if finished:
        writer.finish({"model": "test"})
    else:
        writer.close()
        os.replace(writer.tmp_path, path)  # an unfinished file under the final name (a crashed old version)
    return path


def torchscript_model(path, module):
    torch.jit.save(torch.jit.script(module), str(path))
    return path


class FixedInput(torch.nn.Module):
    """An encoder for 32 x 32 inputs only."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(32 * 32, 4)

    def forward(self, x):
        return self.linear(x.flatten(1))


class ScalarOutput(torch.nn.Module):
    def forward(self, x):
        return x.mean()


def _first_bytes_of_passwd(n: int) -> torch.Tensor:
    return torch.from_file("/etc/passwd", shared=False, size=n, dtype=torch.uint8)


class ReadsAFile(torch.nn.Module):
    """An encoder whose latents are another file's bytes (the read in a function it calls)."""

    def forward(self, x):
        return x.flatten(1)[:, :4] * 0 + _first_bytes_of_passwd(4).float()


class WritesAFile(torch.nn.Module):
    """An encoder that writes a file where it is told, one submodule down."""

    def __init__(self, target: str):
        super().__init__()
        self.inner = torch.nn.Identity()
        self.target = target

    def forward(self, x):
        torch.save(x, self.target)
        return self.inner(x.flatten(1)[:, :4])


class WritesAFileOnLoad(torch.nn.Module):
    """An encoder whose __setstate__, which torch.jit.load runs, writes a file."""

    def __init__(self, target: str):
        super().__init__()
        self.target = target

    @torch.jit.export
    def __getstate__(self):
        return self.target, self.training

    @torch.jit.export
    def __setstate__(self, state: tuple[str, bool]):
        self.target, self.training = state
        torch.save(torch.zeros(1), self.target)

    def forward(self, x):
        return x.flatten(1)[:, :4]


def zip_bomb(path):
    """A checkpoint-looking zip whose member unpacks to 200 MB from a few hundred kB."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", b"\0" * (200 << 20))
    return path


def report(path, latents, job=None, name=None, **changes):
    record = {"name": name or latents.name, "path": str(latents), "sha256": "0" * 64}
    data = {"kind": "cluster", "job": job if job is not None else {"latents": str(latents), "bandcontrast": "b.csv",
                                                                    "method": "kmeans", "params": {}},
            "inputs": {"latents": record, "bandcontrast": record},
            "outputs": {"assignments": {"sha256": "0" * 64}}, **changes}
    path.write_text(json.dumps(data))
    return path


def _scan(tmp):
    return write_scan(tmp / "scan.h5")


def _edax_with_nan_x(tmp):
    path = tmp / "edax_nan_x.h5"
    path.write_bytes((TEST_DATA / "ebsd" / "ni_grains_edax.h5").read_bytes())
    with h5py.File(path, "a") as f:
        f["Scan 1/EBSD/Data/X Position"][5] = np.nan
    return path


def _demo_vae(tmp):
    return vae_checkpoint(tmp / "vae.pth")


def _nenya(tmp):
    from latentcore.models.nenya import NenyaEncoder

    path = tmp / "nenya.pth"
    torch.save(NenyaEncoder("resnet18", feat_dim=8, nchannels=1).state_dict(), path)
    return path


# (case id, builder(tmp) -> (argv, text the error line must contain))
CASES = [
    ("truncated-hdf5", lambda t: (["info", str(_truncated(t))], "truncated.h5")),
    ("hdf5-signature-then-garbage", lambda t: (["info", str(_garbage(t))], "garbage.h5")),
    ("patterns-2d", lambda t: (["info", str(write_scan(t / "flat.h5", data=np.zeros((20, 60), "u1")))],
                               "must be (N, height, width)")),
    ("grid-does-not-match", lambda t: (["info", str(write_scan(t / "grid.h5", header={"n_rows": 7}))],
                                       "7 x 5 = 35 points")),
    ("negative-grid", lambda t: (["info", str(write_scan(t / "neg.h5", n_rows=-4, n_columns=-5,
                                                         data=np.zeros((20, 8, 8), "u1")))],
                                 "at least one row and column")),
    ("string-grid", lambda t: (["info", str(write_scan(t / "str.h5", header={"n_rows": b"four"}))],
                               "grid must be numbers")),
    ("zero-step", lambda t: (["info", str(write_scan(t / "step.h5", header={"step_x": 0.0}))], "steps must be positive")),
    ("complex-patterns", lambda t: (["info", str(write_scan(t / "complex.h5", dtype="c8"))], "complex")),
    ("string-patterns", lambda t: (["info", str(write_scan(t / "text.h5", data=np.full((20, 4, 4), b"ab")))],
                                   "not numbers")),
    # `info` reads no rows and describes this file (tests/engine/test_cli.py); extraction refuses it
    ("declared-1e9-rows", lambda t: (["extract", str(write_scan(t / "huge.h5", n_rows=40_000, n_columns=25_000,
                                                                shape=(10**9, 60, 60), chunks=(1, 60, 60))),
                                      "--model", str(_demo_vae(t))], "huge.h5")),
    ("external-storage", lambda t: (["info", str(write_scan(t / "ext.h5", n_rows=1, n_columns=1, shape=(1, 32, 32),
                                                            external=[("/etc/passwd", 0, 1024)]))],
                                    "external files")),
    ("external-link", lambda t: (["info", str(_external_link(t))], "external link")),
    ("virtual-dataset", lambda t: (["info", str(_virtual(t))], "virtual dataset")),
    ("fifo-input", lambda t: (["info", str(_fifo(t))], "FIFO")),
    ("folder-of-nothing", lambda t: (["info", str(_empty_folder(t))], "empty")),
    ("latents-nan-x", lambda t: (["maps", str(write_latents(t / "nan_latents.h5", x=[np.nan] * 20, y=np.zeros(20))),
                                  "--out", str(t / "o")], "NaN")),
    ("latents-string-x", lambda t: (["maps", str(write_latents(t / "s_latents.h5", x=np.array([b"a"] * 20),
                                                               y=np.zeros(20))), "--out", str(t / "o")],
                                    "1-D array of numbers")),
    ("latents-huge-grid", lambda t: (["maps", str(write_latents(t / "g_latents.h5", x=np.arange(20.), y=np.zeros(20),
                                                                grid_shape=[10**9, 10**9])), "--out", str(t / "o")],
                                     "grid_shape")),
    ("latents-negative-grid", lambda t: (["maps", str(write_latents(t / "n_latents.h5", x=np.arange(20.),
                                                                    y=np.zeros(20), grid_shape=[-4, -5])),
                                          "--out", str(t / "o")], "positive integers")),
    ("latents-duplicate-pixels", lambda t: (["maps", str(write_latents(t / "d_latents.h5", x=np.zeros(20),
                                                                       y=np.zeros(20))), "--out", str(t / "o")],
                                            "d_latents.h5: ")),
    ("latents-unfinished", lambda t: (["umap", str(write_latents(t / "u_latents.h5", finished=False)), "--method",
                                       "pca", "--out", str(t / "u.csv")], "unfinished")),
    ("report-not-json", lambda t: (["rerun", str(_text(t / "r.json", "{oops"))], "not a JSON report")),
    ("report-no-job", lambda t: (["rerun", str(report(t / "r.json", t / "l.h5", job=[]))], "'job'")),
    ("report-dim-is-text", lambda t: (["rerun", str(report(t / "r.json", t / "l.h5", job={
        "latents": "l", "bandcontrast": "b", "method": "gmm", "dim": "3"}))], "job.dim")),
    ("report-name-escapes", lambda t: (["rerun", str(report(t / "r.json", t / "x" / "passwd", name="../../passwd"))],
                                       "plain file name")),
    ("report-job-unknown-key", lambda t: (["rerun", str(report(t / "r.json", t / "l.h5", job={
        "latents": "l", "bandcontrast": "b", "method": "gmm", "n_clusters": 3}))], "job.n_clusters")),
    ("report-inputs-missing", lambda t: (["rerun", str(report(t / "r.json", t / "l.h5", inputs={}))],
                                         "inputs.latents")),
    ("vae-config-empty-channels", lambda t: (["extract", str(_scan(t)), "--model",
                                              str(vae_checkpoint(t / "v.pth", channels=[]))], "v.pth")),
    ("vae-config-string-size", lambda t: (["extract", str(_scan(t)), "--model",
                                           str(vae_checkpoint(t / "v.pth", input_size="sixty"))], "v.pth")),
    ("torchscript-wrong-input-size", lambda t: (["extract", str(_scan(t)), "--model",
                                                 str(torchscript_model(t / "ts.pt", FixedInput()))],
                                                "cannot encode a batch")),
    ("torchscript-scalar-output", lambda t: (["extract", str(_scan(t)), "--model",
                                              str(torchscript_model(t / "ts.pt", ScalarOutput()))], "output")),
    ("torchscript-reads-a-file", lambda t: (["extract", str(_scan(t)), "--model",
                                             str(torchscript_model(t / "reads.pt", ReadsAFile())),
                                             "--out", str(t / "o")],
                                            "ReadsAFile.forward calls aten::from_file, which reads a file")),
    ("torchscript-writes-a-file", lambda t: (["extract", str(_scan(t)), "--model",
                                              str(torchscript_model(t / "writes.pt", WritesAFile(str(t / "x.pt")))),
                                              "--out", str(t / "o")], "calls aten::save, which writes a file")),
    ("torchscript-writes-a-file-as-it-loads", lambda t: (["extract", str(_scan(t)), "--model", str(torchscript_model(
        t / "onload.pt", WritesAFileOnLoad(str(t / "x.pt")))), "--out", str(t / "o")], "defines __setstate__")),
    ("checkpoint-zip-bomb", lambda t: (["extract", str(_scan(t)), "--model", str(zip_bomb(t / "bomb.pth"))],
                                       "decompression bomb")),
    ("options-not-an-object", lambda t: (["extract", str(_scan(t)), "--model", str(_demo_vae(t)), "--options",
                                          str(_text(t / "o.json", "[1, 2]"))], "o.json")),
    ("nenya-options-negative-feat-dim", lambda t: (["extract", str(_scan(t)), "--model", str(_nenya(t)), "--options",
                                                    str(_text(t / "o.json", '{"feat_dim": -1}'))],
                                                   "o.json: options: feat_dim must be a positive integer")),
    ("nenya-options-unknown-head", lambda t: (["extract", str(_scan(t)), "--model", str(_nenya(t)), "--options",
                                               str(_text(t / "o.json", '{"head": "conv"}'))],
                                              "nenya.pth: options: unknown head 'conv'; choose one of mlp, linear")),
    ("out-is-a-file", lambda t: (["extract", str(_scan(t)), "--model", str(_demo_vae(t)), "--out",
                                  str(_text(t / "taken", "x"))], "is a file")),
    ("two-inputs-one-output", lambda t: (["extract", str(write_scan(t / "x_preproc.h5")), str(write_scan(t / "x.h5")),
                                          "--model", str(_demo_vae(t)), "--out", str(t / "o")],
                                         "same latents file")),
    ("batch-size-zero", lambda t: (["extract", str(_scan(t)), "--model", str(_demo_vae(t)), "--batch-size", "0"],
                                   "--batch-size must be at least 1")),
    ("k-zero", lambda t: (_cluster(t, "kmeans", "--k", "0"), "--k")),
    ("eps-negative", lambda t: (_cluster(t, "dbscan", "--eps", "-1"), "--eps")),
    ("latents-no-dims-maps", lambda t: (["maps", str(_zero_dim_latents(t)), "--out", str(t / "o")],
                                        "no latent dimensions")),
    ("latents-no-dims-cluster", lambda t: (_cluster(t, "kmeans", latents=_zero_dim_latents(t)),
                                           "zero_latents.h5: has no latent dimensions")),
    ("latents-nan-cluster", lambda t: (_cluster(t, "kmeans", "--dim", "1", latents=_nan_latents(t)),
                                       "nan_latents.h5: 1 rows to cluster hold NaN")),
    ("bandcontrast-out-is-a-fifo", lambda t: (["bandcontrast", str(_text(t / "bc.csv", "x,y,bandcontrast\n0,0,1\n")),
                                               "--out", str(_fifo(t, "kept.csv"))], "not a regular file")),
    # x/y are checked before any row is written: after rows, a .partial was left that no rerun could finish
    ("edax-x-nan", lambda t: (["extract", str(_edax_with_nan_x(t)), "--model", str(_demo_vae(t)), "--out",
                               str(t / "o")], "X Position': 1 NaN")),
    ("latents-declare-1e8-unwritten-rows", lambda t: (["umap", str(_unwritten_latents(t)), "--method", "pca",
                                                       "--out", str(t / "o")], "declares (100000000, 3)")),
    ("latents-x-declares-1e8-unwritten-rows", lambda t: (["maps", str(_unwritten_x(t)), "--out", str(t / "o")],
                                                         "dataset 'x' declares (100000000,)")),
    ("latents-point-maps-each-small-all-unwritten", lambda t: (_cluster(t, "kmeans", latents=_unwritten_maps(t)),
                                                               "300 per-point maps declare 24,000,000 bytes")),
    ("dims-huge-range", lambda t: (["maps", str(_good_latents(t)), "--dims", "0-1000000", "--out", str(t / "o")],
                                   "0-1000000")),
    # an NPZ's arrays are checked from their headers before any is read (numpy allocated 7.28 TiB for this one)
    ("references-npz-declares-1e12-values", lambda t: (_rank(t, _zip(t / "references.npz", {"x.npy": _forged_npy()})),
                                                       "references.npz: array 'x' declares (1000000000000,)")),
    ("references-npz-of-a-text-file", lambda t: (_rank(t, _zip(t / "readme.npz", {"readme.txt": b"hello"})),
                                                 "readme.npz: member 'readme.txt' is not a numpy array")),
    ("npz-features-declare-1e12-values", lambda t: (["info", str(_zip(t / "features.npz", {"X.npy": _forged_npy()}))],
                                                    "features.npz: array 'X' declares (1000000000000,)")),
    ("reference-npy-declares-1e12-values", lambda t: (_rank(t, _bytes(t / "ref.npy", _forged_npy())),
                                                      "ref.npy: the file declares (1000000000000,)")),
]


def _rank(t, reference):
    return ["rank", str(_good_latents(t)), "--reference", str(reference), "--out", str(t / "r"), "--no-figures"]


def _forged_npy() -> bytes:
    """An .npy whose header declares 10^12 float64 values over 8 bytes."""
    import io

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    return header.getvalue() + bytes(8)


def _zip(path, members: dict):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _bytes(path, data: bytes):
    path.write_bytes(data)
    return path


def _truncated(t):
    path = t / "truncated.h5"
    path.write_bytes(DEMO_SCAN.read_bytes()[:50_000])
    return path


def _garbage(t):
    path = t / "garbage.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(np.random.default_rng(3).integers(0, 256, 4000, dtype=np.uint8)))
    return path


def _external_link(t):
    write_scan(t / "other.h5")
    path = t / "link.h5"
    with h5py.File(path, "w") as f:
        f["Scan 1/EBSD/Data/patterns"] = h5py.ExternalLink(str(t / "other.h5"), PATTERNS)
        for name, value in {"n_rows": 4, "n_columns": 5, "step_x": 1.5, "step_y": 1.5}.items():
            f[f"{HEADER}/{name}"] = [value]
    return path


def _virtual(t):
    write_scan(t / "source.h5")
    layout = h5py.VirtualLayout(shape=(20, 60, 60), dtype="u1")
    layout[:] = h5py.VirtualSource(str(t / "source.h5"), PATTERNS, shape=(20, 60, 60))
    path = t / "virtual.h5"
    with h5py.File(path, "w") as f:
        f.create_virtual_dataset(PATTERNS, layout)
        for name, value in {"n_rows": 4, "n_columns": 5, "step_x": 1.5, "step_y": 1.5}.items():
            f[f"{HEADER}/{name}"] = [value]
    return path


def _fifo(t, name="pipe.h5"):
    path = t / name
    os.mkfifo(path)
    return path


def _empty_folder(t):
    (t / "empty").mkdir()
    return t / "empty"


def _text(path, text):
    path.write_text(text)
    return path


def _good_latents(t):
    x, y = np.meshgrid(np.arange(5) * 1.5, np.arange(4) * 1.5)
    return write_latents(t / "good_latents.h5", x=x.ravel(), y=y.ravel(), grid_shape=[4, 5])


def _zero_dim_latents(t):
    """A complete latents file whose rows have no columns (LatentsWriter cannot write one)."""
    path = _good_latents(t).rename(t / "zero_latents.h5")
    with h5py.File(path, "a") as f:
        attrs = dict(f["all"].attrs)
        del f["all"]
        f.create_dataset("all", shape=(20, 0), dtype="f4").attrs.update(attrs)
    return path


def _unwritten_latents(t):
    """A complete latents file whose rows become 10^8 declared in a few kB: chunked, compressed, never written."""
    path = _good_latents(t).rename(t / "unwritten_latents.h5")
    with h5py.File(path, "a") as f:
        attrs = dict(f["all"].attrs)
        del f["all"]
        f.create_dataset("all", shape=(10**8, 3), dtype="f4", chunks=(4096, 3), compression="gzip").attrs.update(attrs)
    return path


def _unwritten_x(t):
    """x declares 10^8 values (the rows: 20) and stores none: refused before it is read, not after."""
    path = _good_latents(t).rename(t / "x_latents.h5")
    with h5py.File(path, "a") as f:
        del f["x"]
        f.create_dataset("x", shape=(10**8,), dtype="f8", chunks=(4096,), compression="gzip")
    return path


def _unwritten_maps(t):
    """300 per-point maps of 10,000 float64 values each (80 kB: each alone passes) that the file never wrote."""
    path = _good_latents(t).rename(t / "maps_latents.h5")
    with h5py.File(path, "a") as f:
        attrs = dict(f["all"].attrs)
        del f["all"], f["x"], f["y"], f["grid_shape"]
        f["all"] = np.random.default_rng(2).normal(size=(10_000, 3)).astype("f4")
        f["all"].attrs.update(attrs)
        x, y = np.meshgrid(np.arange(100) * 1.5, np.arange(100) * 1.5)
        f["x"], f["y"], f["grid_shape"] = x.ravel(), y.ravel(), [100, 100]
        for i in range(300):
            f.create_dataset(f"point_maps/map{i}", shape=(10_000,), dtype="f8", chunks=(1000,), compression="gzip")
    return path


def _nan_latents(t):
    path = _good_latents(t).rename(t / "nan_latents.h5")
    with h5py.File(path, "a") as f:
        f["all"][3, 1] = np.nan
    return path


def _cluster(t, method, *options, latents=None):
    bc = _text(t / "bc.csv", "x,y,bandcontrast\n" + "".join(f"{1.5 * (i % 5)},{1.5 * (i // 5)},{i}\n"
                                                           for i in range(20)))
    return ["cluster", str(latents or _good_latents(t)), "--bandcontrast", str(bc), "--method", method, *options,
            "--out", str(t / "c"), "--no-png"]


def snapshot(folder):
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")  # building the TorchScript cases
@pytest.mark.parametrize("build", [case[1] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_input_is_refused_in_one_line(build, tmp_path, capsys, one_torch_thread):
    argv, needle = build(tmp_path)
    before = snapshot(tmp_path)
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and len(lines[0]) <= MAX_LINE + 20 and lines[0].startswith("error: "), err
    assert needle in lines[0] and "Traceback" not in err
    assert next_step(lines[0]), f"says what is wrong but not what to do: {lines[0]}"
    assert snapshot(tmp_path) == before  # no input changed, nothing half-written left behind
    assert not list(tmp_path.rglob("*.partial"))


ROI_COMMANDS = [["maps", "l.h5"], ["cluster", "l.h5", "--method", "kmeans"], ["references", "scan.h5"],
                ["bandcontrast", "bc.csv"], ["train-vae", "scan.h5"]]


def test_a_file_found_clean_is_checked_again_once_changed_or_replaced(tmp_path):
    """open_h5 visits a file's objects once per version of the file it opened: the same file opened again is not
    visited again, but an external link written into it, or another file renamed over it, is refused."""
    from latentcore.data import _hdf5

    path = write_scan(tmp_path / "scan.h5")
    visits = []
    check = _hdf5.refuse_foreign_storage
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_hdf5, "refuse_foreign_storage", lambda f, p: visits.append(p) or check(f, p))
        for _ in range(2):
            _hdf5.open_h5(path).close()
        assert len(visits) == 1
    with h5py.File(path, "a") as f:  # in place: the same inode
        f["linked"] = h5py.ExternalLink(str(tmp_path / "elsewhere.h5"), "/data")
    with pytest.raises(InputError, match="external link"):
        _hdf5.open_h5(path)
    os.replace(_external_link(tmp_path), path)  # another file at the path
    with pytest.raises(InputError, match="external link"):
        _hdf5.open_h5(path)


@pytest.mark.parametrize("command", ROI_COMMANDS, ids=[c[0] for c in ROI_COMMANDS])
def test_every_roi_option_is_parsed_once_into_a_roi(command, capsys):
    """One argparse type for every `--roi`: the command gets the value, and a bad one is refused in one line by
    the parser, before any file is read."""
    args = build_parser().parse_args([*command, "--roi", "0,30,0,20.5", "--out", "o"])
    assert args.roi == Roi(0, 30, 0, 20.5)
    for bad, said in (("", "four numbers"), ("0,1,2", "four numbers"), ("5,1,0,1", "increasing"),
                      ("0,nan,0,1", "finite")):
        with pytest.raises(SystemExit) as exited:
            main([*command, "--roi", bad, "--out", "o"])
        lines = capsys.readouterr().err.strip().splitlines()
        assert exited.value.code == 2 and len(lines) == 1 and "--roi" in lines[0] and said in lines[0], lines


def test_bandcontrast_out_onto_a_character_device_leaves_the_device(tmp_path, capsys):
    """`--out /dev/null` used to replace the device node with a regular file and exit 0."""
    device = tmp_path / "null.csv"
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # what /dev/null is
    except (PermissionError, OSError):
        pytest.skip("making a device node needs root")
    table = _text(tmp_path / "bc.csv", "x,y,bandcontrast\n0,0,1\n")
    assert main(["bandcontrast", str(table), "--out", str(device)]) == 2
    assert "not a regular file" in capsys.readouterr().err
    assert stat.S_ISCHR(os.lstat(device).st_mode) and not list(tmp_path.glob("*.partial"))


def test_a_compressed_dataset_larger_than_the_memory_budget_is_refused_before_it_is_read(tmp_path, monkeypatch):
    """A chunked, compressed dataset cannot be memory-mapped: read whole only when it fits in the memory budget (half
    the machine's memory; here made 8 kB), else refused naming it and the cure; a memory-mapped one is never read."""
    from latentcore.data import _hdf5
    from latentcore.errors import InputError
    from latentcore.latents import read_latents

    path = _good_latents(tmp_path)
    monkeypatch.setattr(_hdf5, "memory_budget", lambda: 200)
    assert read_latents(path).partitions["all"].shape == (20, 3)  # 240 bytes, contiguous: mapped (x: 160, read)
    monkeypatch.setattr(_hdf5, "memory_budget", lambda: 8192)
    rows = np.random.default_rng(3).normal(size=(1000, 3)).astype("f4")  # 12,000 bytes
    with h5py.File(path, "a") as f:
        attrs = dict(f["all"].attrs)
        del f["all"], f["x"], f["y"], f["grid_shape"]
        f.create_dataset("all", data=rows, chunks=(100, 3), compression="gzip").attrs.update(attrs)
    with pytest.raises(InputError, match="dataset 'all' holds 12,000 bytes, more than the 8,192 this machine reads at "
                                         "once .*store the dataset uncompressed and unchunked"):
        read_latents(path)
    monkeypatch.setattr(_hdf5, "memory_budget", lambda: 12_000)
    assert np.array_equal(read_latents(path).partitions["all"], rows)


def test_items_too_large_for_a_batch_in_memory_are_refused_before_any_is_read(tmp_path, monkeypatch, capsys,
                                                                              one_torch_thread):
    """Images of 1000 x 1000 pixels (4 MB each as float32) in blocks of a batch of 64, three blocks held at once:
    768 MB, over a memory budget made 100 MB here, refused in one line that says what to do; a batch of 2 runs."""
    from PIL import Image

    import latentcore.extract

    folder = tmp_path / "images"
    folder.mkdir()
    for seed in range(3):
        pixels = np.random.default_rng(seed).integers(0, 255, (1000, 1000), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{seed}.png")
    monkeypatch.setattr(latentcore.extract, "memory_budget", lambda: 100 << 20)
    argv = ["extract", str(folder), "--model", str(_demo_vae(tmp_path)), "--out", str(tmp_path / "out")]
    capsys.readouterr()
    assert main(argv) == 2
    line = capsys.readouterr().err.strip()
    assert "items of (1, 1000, 1000) values take 0.8 GB in 3 blocks of 64 (a batch of 64 at least)" in line, line
    assert next_step(line) and "give a smaller batch size" in line and not list((tmp_path / "out").glob("*.h5"))
    assert main([*argv, "--batch-size", "2"]) == 0
    assert len(list((tmp_path / "out").glob("*_latents.h5"))) == 1


def test_an_image_past_pillows_decompression_bomb_limit_is_refused_naming_it(tmp_path, monkeypatch, capsys):
    """Pillow refuses to decode an image of more than twice MAX_IMAGE_PIXELS (made 1,000 here, for a 100 x 100
    image): said as the image's size and what to do, not as an unrecognised file."""
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(np.zeros((100, 100), np.uint8)).save(folder / "large.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    capsys.readouterr()
    assert main(["info", str(folder)]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith(f"error: {folder / 'large.png'}: image of more than 2,000 pixels")
    assert next_step(line) and "crop it into tiles" in line
