"""Reports name their files by name, SHA-256 and a path relative to the report's own folder, never by an absolute
path: every command that writes a JSON report runs here on small files, and each of its reports is read back."""
import shutil
from pathlib import Path

import pandas as pd
import pytest

from latentcore.cli import main
from report_paths import check_report
from small_files import scan_files

REPO = Path(__file__).resolve().parents[2]
TINY_VAE = ["--epochs", "1", "--input-size", "16", "--latent-dim", "2", "--channels", "4,8", "--batch-size", "4",
            "--val-fraction", "0.2", "--device", "cpu"]

COMMANDS = {  # name -> (files, out folder) -> argv
    "cluster": lambda f, o: ["cluster", f["latents"], "--features", "latent", "--method", "kmeans", "--k", "2",
                             "--roi", "0,6,0,3", "--out", o, "--no-png"],
    "maps": lambda f, o: ["maps", f["latents"], "--roi", "0,6,0,3", "--out", o, "--no-png"],
    "mean-pattern": lambda f, o: ["mean-pattern", f["latents"], "--source", f["scan"], "--rows", "0-3", "--out", o,
                                  "--no-png"],
    "profile": lambda f, o: ["profile", f["latents"], "--line", "0,0,6,3", "--scan", f["scan"], "--out", o,
                             "--no-png"],
    "references": lambda f, o: ["references", f["scan"], "--roi", "0,6,0,3", "--out", o, "--no-figures"],
    "rank": lambda f, o: ["rank", f["latents"], "--components", f["scan"], "--n-components", "2", "--out", o,
                          "--metrics", "pearson", "--no-figures"],  # HSIC's numba compile is test_rank's
    "probe": lambda f, o: ["probe", f["latents"], "--labels", f["labels"], "--out", o, "--no-png"],
    "compare": lambda f, o: ["compare", f["latents"], f["latents"], "--labels", f["labels"], "--out",
                             o / "compare.json"],
    "train-vae": lambda f, o: ["train-vae", f["scan"], "--out", o, *TINY_VAE],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_no_report_of_a_command_holds_an_absolute_path(tmp_path, command, one_torch_thread):
    (tmp_path / "data").mkdir()
    files = scan_files(tmp_path / "data")
    out = tmp_path / "data" / "out"
    assert main([str(a) for a in COMMANDS[command](files, out)]) == 0
    reports = sorted(out.rglob("*.json"))
    assert reports, f"{command} wrote no report"
    located = sum(check_report(report, tmp_path, REPO) for report in reports)
    assert located or command == "train-vae", f"{command}'s reports name no input by its path"  # train-vae: names


def test_a_rerun_finds_its_inputs_from_the_report_wherever_it_is_run(tmp_path, monkeypatch, capsys):
    """The paths are relative to the report: the report and its inputs moved together, rerun from elsewhere."""
    (tmp_path / "data").mkdir()
    files = scan_files(tmp_path / "data")
    out = tmp_path / "data" / "out"
    assert main([str(a) for a in COMMANDS["cluster"](files, out)]) == 0
    moved = tmp_path / "moved"
    (tmp_path / "data").rename(moved)
    monkeypatch.chdir(tmp_path)
    report = next((moved / "out").glob("cluster_report__*.json"))
    capsys.readouterr()
    assert main(["rerun", str(report), "--no-png"]) == 0 and "byte-identical" in capsys.readouterr().out
    assert check_report(report, tmp_path, REPO) == 1  # rewritten by the rerun: still no absolute path


def test_the_grain_table_the_export_and_the_orientations_name_their_inputs_from_the_report(tmp_path, grains_h5oina):
    data = tmp_path / "data"
    data.mkdir()
    scan = data / grains_h5oina.name
    shutil.copyfile(grains_h5oina, scan)
    labels = data / "labels.csv"
    pd.DataFrame({"row": range(12 * 15), "label": ["a", "b", "c"] * 60}).to_csv(labels, index=False)
    out = data / "out"
    assert main(["grains", str(scan), "--classes", str(labels), "--out", str(out)]) == 0
    assert main(["export-ebsd", str(scan), "--classes", str(labels), "--out", str(out / "scan.ctf")]) == 0
    assert main(["orientations", str(scan), "--labels", str(labels), "--label", "a", "--out", str(out),
                 "--no-png"]) == 0
    reports = sorted(out.glob("*.json"))
    assert [path.name for path in reports] == ["grains_report__grains.json",
                                               "orientations__grains__label_a__ipf_z.json", "scan.ctf.json"]
    for report in reports:
        assert check_report(report, tmp_path, REPO) == 2, report.name  # the scan and the classes, by their paths
