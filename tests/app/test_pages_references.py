"""The EBSD reference maps beside the latent maps, through the real app with AppTest: an uploaded H5OINA
scan with orientations shows IPF maps with their colour key, grains, KAM and the indexed points (no phase
map: the scan has one phase), VBSE/IQ/ADP from its patterns on request, and the grain-boundary switch draws
the boundaries over every latent map; over an ROI
the reference maps are cropped as the latent maps are; a selection made on another page is said where it veils a map;
the KAM order and the Schmid factor map's slip systems and loading direction, widgets drawn from their declarations,
remake the maps and their downloads."""
from __future__ import annotations

import pytest

import numpy as np

from latentcore.figures.plotly_figures import png_pixels
from latentcore.outputs import latents_path_for
from driving import array_of, chart_specs, point_panels, run, texts, with_upload

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("private_folders")]


def trace_names(at):
    return [[t.get("name") for t in spec["data"]] for spec in chart_specs(at)]


def test_the_references_panel_and_the_boundary_overlay_on_the_latent_maps(grains_h5oina):
    at = with_upload(grains_h5oina)
    run(at.selectbox(key="data_source").select(grains_h5oina.name))
    run(at, "extract")
    run(at.button(key="extract_run").click())
    assert f"Wrote {latents_path_for(grains_h5oina, model='demo-vae').name}: all 180 rows" in texts(at.success)
    run(at, "maps")
    picker = at.selectbox(key="maps_ref_name")
    assert picker.options == ["IPF z", "IPF x", "IPF y", "Grain boundaries", "Twin boundaries (Σ3)", "Grains",
                              "Kernel average misorientation", "Schmid factor", "Indexed"]  # one phase: no phase map
    names = trace_names(at)
    assert ["IPF z", "key"] in names  # the IPF map and its colour key
    grid_before = next(n for n in names if n and str(n[0]).startswith("dim"))
    assert "grain boundaries" not in grid_before
    run(at.toggle(key="maps_boundaries").set_value(True))
    grid_after = next(n for n in trace_names(at) if n and str(n[0]).startswith("dim"))
    assert grid_after.count("grain boundaries") == sum(1 for n in grid_before if str(n).startswith("dim"))  # one each
    ipf = next(spec for spec in chart_specs(at) if spec["data"][0].get("name") == "IPF z")
    assert ipf["data"][-1]["name"] == "grain boundaries"  # the overlay on the reference map too
    run(at.selectbox(key="maps_ref_name").select("grains"))
    grains = next(spec for spec in chart_specs(at) if spec["data"][0].get("name") == "grains")
    assert "points" in grains["data"][0]["hovertemplate"] and grains["layout"]["title"]["text"].startswith("Grains (")
    run(at.selectbox(key="maps_ref_name").select("kam"))
    kam = next(spec for spec in chart_specs(at) if spec["data"][0].get("name") == "KAM (°)")
    assert kam["data"][-1]["name"] == "grain boundaries"
    run(at.selectbox(key="maps_ref_name").select("twin_boundaries"))  # the boundaries by class, not the overlay
    twins = next(spec for spec in chart_specs(at) if spec["layout"].get("title", {}).get("text", "").startswith("Twin"))
    assert [trace.get("name") for trace in twins["data"][1:]] == ["low-angle", "high-angle", "Σ3 twin"]
    assert "within 8.66° of 60° about <111>" in texts(at.caption)
    run(at.checkbox(key="maps_ref_patterns").check())
    assert {"Virtual BSE (RGB)", "Image quality", "Average neighbour dot product"} <= \
        set(at.selectbox(key="maps_ref_name").options)


def test_the_clusters_map_takes_the_boundary_overlay(grains_h5oina):
    at = with_upload(grains_h5oina)
    run(at.selectbox(key="data_source").select(grains_h5oina.name))
    run(at, "extract")
    run(at.button(key="extract_run").click())
    run(at, "clusters")
    assert "lines_x" not in point_panels(at)["clusters_map"][1]
    run(at.toggle(key="clusters_boundaries").set_value(True))
    header, arrays = point_panels(at)["clusters_map"]
    x, y = arrays["lines_x"], arrays["lines_y"]  # segments on the pixels' edges, NaN between them
    grid = header["grid"]
    assert np.isnan(x).sum() > 10 and np.array_equal(np.isnan(x), np.isnan(y))
    assert np.nanmin(x) >= grid["x0"] - grid["dx"] / 2 and np.nanmax(x) <= grid["x0"] + (grid["nx"] - 0.5) * grid["dx"]


def test_the_rank_page_offers_the_orientation_references(grains_h5oina):
    at = with_upload(grains_h5oina)
    run(at.selectbox(key="data_source").select(grains_h5oina.name))
    run(at, "extract")
    run(at.button(key="extract_run").click())
    run(at, "rank")
    picker = at.multiselect(key="rank_references")
    assert {"ipf_z[r]", "ipf_x[g]", "boundaries", "indexed", "kam", "schmid"} <= set(picker.options)
    assert "phase" not in picker.options  # one phase
    assert picker.options[0] == "Band Contrast" and picker.value == ["Band Contrast"]  # the scan's own, by default
    assert picker.options.index("ipf_z[r]") < picker.options.index("ipf_x[r]")  # IPF z first, as on Latent maps
    run(at.checkbox(key="rank_patterns").check())
    assert {"vbse_rgb[r]", "iq", "adp"} <= set(at.multiselect(key="rank_references").options)
    run(at.multiselect(key="rank_references").set_value(["iq", "ipf_z[g]"]))
    assert list(dict.fromkeys(at.dataframe[0].value["reference"])) == ["iq", "ipf_z[g]"]


def test_the_umap_is_coloured_by_ipf_colours_and_phases(grains_h5oina):
    """Each point of the UMAP takes its orientation's IPF colour (the same key as the references panel), in 6
    levels a channel as its legend says; and the phases' names."""
    import numpy as np

    from latentcore.analysis.ebsd import orientation
    from latentcore.figures import colours
    from latentcore.latents import read_latents

    at = with_upload(grains_h5oina)
    run(at.selectbox(key="data_source").select(grains_h5oina.name))
    run(at, "extract")
    run(at.button(key="extract_run").click())
    run(at, "umap")
    assert {"orientation: IPF-Z", "orientation: IPF-X", "phase (from the scan's orientations)"} <= \
        set(at.selectbox(key="umap_colour").options)
    run(at.selectbox(key="umap_colour").select("orientation: IPF-Z"))
    scatter, points = point_panels(at)["umap_scatter"]
    codes = points["codes"].astype(int)
    palette = ["#%02x%02x%02x" % tuple(rgba[:3]) for rgba in scatter["palette"]]  # each code's colour
    latents = read_latents(at.session_state["latents"])
    expected = orientation.ipf_colours(latents.orientations.euler, "m-3m", (0, 0, 1))
    shown = np.array([colours._rgb(palette[code]) for code in codes], np.float64) / 255
    indexed = latents.orientations.phase_id >= 0
    assert indexed.mean() > 0.9 and (codes[~indexed] == len(palette) - 1).all()  # not indexed: grey
    assert np.abs(shown[indexed] - expected[indexed]).max() <= 0.5 / 5 + 1e-9  # within half of one of 5 steps
    assert "IPF-Z: each point's colour in 6 levels a channel" in texts(at.caption)  # said where it is shown
    run(at.selectbox(key="umap_colour").select("phase (from the scan's orientations)"))
    assert any("Nickel" in name for name, _ in point_panels(at)["umap_scatter"][0]["legend"])


def test_the_umap_scan_panel_takes_the_boundary_overlay(grains_h5oina):
    at = with_upload(grains_h5oina)
    run(at.selectbox(key="data_source").select(grains_h5oina.name))
    run(at, "extract")
    run(at.button(key="extract_run").click())
    run(at, "umap")
    assert "lines_x" not in point_panels(at)["umap_map"][1]
    run(at.toggle(key="umap_boundaries").set_value(True))
    scan_map, drawn = point_panels(at)["umap_map"]
    lines = np.column_stack([drawn["lines_x"], drawn["lines_y"]])  # segments between pixels, NaN between them
    g = scan_map["grid"]
    ends = lines[np.isfinite(lines[:, 0])]
    assert len(ends) > 10 and np.allclose((ends[:, 0] - g["x0"]) / g["dx"] % 1, 0.5)  # on the pixels' edges


def extracted_grains(grains_h5oina):
    at = with_upload(grains_h5oina)
    run(at.selectbox(key="data_source").select(grains_h5oina.name))
    run(at, "extract")
    return run(at.button(key="extract_run").click())


def spec_named(at, first_trace: str) -> dict:
    return next(spec for spec in chart_specs(at) if spec["data"][0].get("name") == first_trace)


def test_over_an_roi_the_reference_maps_are_cropped_as_the_latent_maps_and_boundaries_are_lines(grains_h5oina):
    at = run(extracted_grains(grains_h5oina), "maps")
    run(at.slider(key="roi_x").set_value((4.5, 15.0)))
    run(at.slider(key="roi_y").set_value((3.0, 12.0)))
    run(at.toggle(key="maps_boundaries").set_value(True))
    latent = next(spec for spec in chart_specs(at) if str(spec["data"][0].get("name", "")).startswith("dim"))
    columns = np.asarray(array_of(latent["data"][0]["x"]), float)
    assert (columns[0], columns[-1]) == (4.5, 15.0)  # the latent maps' pixels
    ipf = spec_named(at, "IPF z")["data"][0]  # the reference map: the same pixels
    height, width = png_pixels(ipf["source"]).shape[:2]
    assert (ipf["x0"], ipf["x0"] + ipf["dx"] * (width - 1)) == (4.5, 15.0)
    assert ipf["y0"] == 3.0 and height == 7
    _, picker = point_panels(at)["maps_picker"]  # the click map takes the boundaries as lines too
    xs = picker["lines_x"][np.isfinite(picker["lines_x"])]
    assert len(xs) and 4.5 - 0.75 <= xs.min() and xs.max() <= 15.0 + 0.75  # within the ROI's pixels
    npz = next(b.proto for b in at.get("download_button") if b.proto.label == "Reference maps (NPZ)")
    assert "over the ROI x 4.5 to 15, y 3 to 12" in npz.help


def test_a_selection_made_on_latent_maps_is_said_on_clusters_with_a_button_to_clear_it(grains_h5oina):
    at = run(extracted_grains(grains_h5oina), "clusters")
    assert not [i for i in at.info if "selected on" in str(i.value)]
    at.session_state["selection"] = np.array([7], np.int64)  # a click on the Latent maps' click map
    at.session_state["selection_origin"] = "maps_picker"
    run(at)
    notice = [str(i.value) for i in at.info if "selected on" in str(i.value)]
    assert notice and notice[0].startswith("1 pixel selected on Latent maps (the click map)")
    run(at.button(key="clusters_elsewhere_clear").click())
    assert not len(at.session_state["selection"])
    assert not [i for i in at.info if "selected on" in str(i.value)]
    at.session_state["selection"] = np.array([7, 8], np.int64)  # made here: nothing to explain
    at.session_state["selection_origin"] = "clusters_map"
    run(at)
    assert not [i for i in at.info if "selected on" in str(i.value)]


def test_the_kam_order_picked_beside_the_reference_maps_makes_the_kam_map_and_its_files(grains_h5oina, downloads):
    """"KAM order" (saved with the page): order 2 redraws the KAM over the 12 pixels within two edge steps, at
    the engine's values, says so under the map, and the NPZ and its report downloaded are of that order."""
    import io
    import json

    from latentcore.analysis.ebsd.records import ORIENTATION_MAP_PARAMETERS
    from latentcore.analysis.ebsd.scan_references import latents_references
    from latentcore.latents import read_latents
    from ui.session.settings import PAGES

    assert "maps_kam_order" in PAGES["maps"].saved.keys
    at = run(extracted_grains(grains_h5oina), "maps")
    run(at.selectbox(key="maps_ref_name").select("kam"))
    assert at.selectbox(key="maps_kam_order").value == 1
    assert "Kernel average misorientation of order 1: the mean misorientation (°, symmetry-reduced) of each point to " \
           "the 4 edge neighbours" in texts(at.caption)
    first = np.asarray(array_of(spec_named(at, "KAM (°)")["data"][0]["z"]), float)
    run(at.selectbox(key="maps_kam_order").select(2))
    second = np.asarray(array_of(spec_named(at, "KAM (°)")["data"][0]["z"]), float)
    expected = latents_references(read_latents(at.session_state["latents"]),
                                  parameters=ORIENTATION_MAP_PARAMETERS(kam_order=2)).maps["kam"]
    np.testing.assert_allclose(second, expected, equal_nan=True)
    assert np.nanmax(np.abs(second - first)) > 0.01  # another kernel, another map
    assert "Kernel average misorientation of order 2: the mean misorientation (°, symmetry-reduced) of each point to " \
           "the 12 pixels within 2 edge steps" in texts(at.caption)
    report = json.loads(downloads["references_report.json"]())
    assert report["parameters"]["kam_order"] == 2
    with np.load(io.BytesIO(downloads["references.npz"]()), allow_pickle=False) as npz:
        np.testing.assert_allclose(npz["kam"], expected, equal_nan=True)


def test_the_schmid_factor_map_takes_its_slip_systems_and_loading_direction_from_its_widgets(grains_h5oina, downloads):
    """The reference panel draws the Schmid factor map's parameters from their declarations (saved with the page):
    the slip systems in words, the loading direction as three numbers; bcc along z redraws the map at the engine's
    values, says the family and the direction under it, and the NPZ and its report downloaded hold them; a direction
    of zeros is refused in one line naming the widget."""
    import io
    import json

    from latentcore.analysis.ebsd.records import ORIENTATION_MAP_PARAMETERS
    from latentcore.analysis.ebsd.scan_references import latents_references
    from latentcore.latents import read_latents
    from ui.session.settings import PAGES

    keys = {"maps_schmid_family", "maps_kam_threshold_deg", *(f"maps_loading_direction_{a}" for a in "xyz")}
    assert keys <= PAGES["maps"].saved.keys
    at = run(extracted_grains(grains_h5oina), "maps")
    run(at.selectbox(key="maps_ref_name").select("schmid"))
    family = at.selectbox(key="maps_schmid_family")
    assert family.value == "fcc" and family.options == ["fcc {111}<110>", "bcc {110}<111>"]
    assert [at.number_input(key=f"maps_loading_direction_{a}").value for a in "xyz"] == [1.0, 0.0, 0.0]
    assert "over the 12 fcc {111}<110> slip systems for uniaxial loading along [1 0 0]" in texts(at.caption)
    first = np.asarray(array_of(spec_named(at, "Schmid factor")["data"][0]["z"]), float)
    run(at.selectbox(key="maps_schmid_family").select("bcc"))
    run(at.number_input(key="maps_loading_direction_z").set_value(1.0))
    run(at.number_input(key="maps_loading_direction_x").set_value(0.0))
    second = np.asarray(array_of(spec_named(at, "Schmid factor")["data"][0]["z"]), float)
    chosen = ORIENTATION_MAP_PARAMETERS(schmid_family="bcc", loading_direction=(0, 0, 1))
    expected = latents_references(read_latents(at.session_state["latents"]), parameters=chosen).maps["schmid"]
    np.testing.assert_allclose(second, expected, equal_nan=True)
    assert np.nanmax(np.abs(second - first)) > 0.01 and np.nanmax(second) <= 0.5
    assert "over the 12 bcc {110}<111> slip systems for uniaxial loading along [0 0 1]" in texts(at.caption)
    report = json.loads(downloads["references_report.json"]())
    assert {k: report["parameters"][k] for k in ("schmid_family", "loading_direction")} == \
        {"schmid_family": "bcc", "loading_direction": [0, 0, 1]}
    with np.load(io.BytesIO(downloads["references.npz"]()), allow_pickle=False) as npz:
        np.testing.assert_allclose(npz["schmid"], expected, equal_nan=True)
    run(at.number_input(key="maps_loading_direction_z").set_value(0.0), errors_ok=True)
    assert [e.value for e in at.error] == ["Loading direction must be three finite numbers x,y,z, not all 0, got 0,0,0: "
                                           "give a direction such as 1,0,0"]  # the widget's label for the parameter
