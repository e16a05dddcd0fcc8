"""The EBSD reference maps beside the latent maps, through the real app with AppTest: an uploaded H5OINA
scan with orientations shows IPF maps with their colour key, phases with a legend, VBSE/IQ/ADP from its
patterns on request, and the grain-boundary switch draws the boundaries over every latent map."""
from __future__ import annotations

import pytest

from latentcore.demo.simulate import ScanSettings, simulate_scan, write_h5oina
from test_pages_ebsd import REPO, run, specs, texts, with_upload  # noqa: F401

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("private_folders")]


@pytest.fixture(scope="module")
def grains_h5oina(tmp_path_factory):
    scan = simulate_scan(ScanSettings(n_rows=12, n_columns=15, pattern_size=40, n_grains=3, seed=5))
    return write_h5oina(scan, tmp_path_factory.mktemp("grains") / "grains.h5oina")


def trace_names(at):
    return [[t.get("name") for t in spec["data"]] for spec in specs(at)]


def test_the_references_panel_and_the_boundary_overlay_on_the_latent_maps(grains_h5oina):
    at = with_upload(grains_h5oina)
    run(at.selectbox(key="data_source").select(grains_h5oina.name))
    run(at, "extract")
    run(at.button(key="extract_run").click())
    assert "Wrote grains_latents.h5: all 180 rows" in texts(at.success)
    run(at, "maps")
    picker = at.selectbox(key="maps_ref_name")
    assert picker.options[:5] == ["IPF z", "IPF x", "IPF y", "Phases", "Grain boundaries"]
    names = trace_names(at)
    assert ["IPF z", "key"] in names  # the IPF map and its colour key
    grid_before = next(n for n in names if n and str(n[0]).startswith("dim"))
    assert "grain boundaries" not in grid_before
    run(at.toggle(key="maps_boundaries").set_value(True))
    grid_after = next(n for n in trace_names(at) if n and str(n[0]).startswith("dim"))
    assert grid_after.count("grain boundaries") == sum(1 for n in grid_before if str(n).startswith("dim"))
    ipf = next(spec for spec in specs(at) if spec["data"][0].get("name") == "IPF z")
    assert ipf["data"][-1]["name"] == "grain boundaries"  # the overlay on the reference map too
    run(at.selectbox(key="maps_ref_name").select("phase"))
    assert "1: Nickel" in sum(trace_names(at), [])
    run(at.checkbox(key="maps_ref_patterns").check())
    assert {"Virtual BSE (RGB)", "Image quality", "Average neighbour dot product"} <= \
        set(at.selectbox(key="maps_ref_name").options)


def test_the_clusters_map_takes_the_boundary_overlay(grains_h5oina):
    at = with_upload(grains_h5oina)
    run(at.selectbox(key="data_source").select(grains_h5oina.name))
    run(at, "extract")
    run(at.button(key="extract_run").click())
    run(at, "clusters")
    assert "grain boundaries" not in sum(trace_names(at), [])
    run(at.toggle(key="clusters_boundaries").set_value(True))
    scan_map = next(n for n in trace_names(at) if "map" in n)
    assert "grain boundaries" in scan_map


def test_the_rank_page_offers_the_orientation_references(grains_h5oina):
    at = with_upload(grains_h5oina)
    run(at.selectbox(key="data_source").select(grains_h5oina.name))
    run(at, "extract")
    run(at.button(key="extract_run").click())
    run(at, "rank")
    assert {"ipf_z[r]", "ipf_x[g]", "phase", "boundaries"} <= set(at.multiselect(key="rank_references").options)
