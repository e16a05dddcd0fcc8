"""A line drawn on a scan map's point panel (its Line tool sends the line as a shape) on the demo: the UMAP page keeps
it without changing the selection, every scan map of the UMAP, Clusters and Latent maps pages shows it, and the
profile under the maps is the table `python -m latentcore profile` writes for the same line; a line sent to a
scatter is refused in one line; "Clear the line" takes it away."""
from __future__ import annotations

import numpy as np
import pandas as pd

from driving import extracted, go, new_app, point_panels, run, send_shape, texts
from latentcore.analysis.maps import Grid
from latentcore.cli import main
from latentcore.demo import DEMO_BANDCONTRAST
from ui.widgets import point_panel

LINE = {"shape": "line", "op": "replace", "x": [5.2, 80.3], "y": [10.1, 50.7], "count": 0}


def drawn_rows(at, key: str, line: dict) -> list:
    """The rows on the line over the panel as the browser draws it (`rows_in` on the panel's own payload)."""
    header, arrays = point_panels(at)[key]
    g = header["grid"]
    geometry = point_panel.Geometry(*point_panel.positions(header, arrays),
                                    grid=Grid(g["x0"], g["y0"], g["dx"], g["dy"], g["ny"], g["nx"]))
    return point_panel.rows_in(point_panel.read_shape(line), geometry).tolist()


def profile_table(at) -> pd.DataFrame:
    return next(frame.value for frame in at.dataframe if "distance_um" in frame.value.columns)


def line_marks(at, group: str) -> dict:
    """Panel key -> the line mark the group's overlay carries for it."""
    marks = point_panels(at)[f"overlay:{group}"]["marks"]
    return {key: mark for key, found in marks.items() for mark in found if mark["symbol"] == "line"}


def test_a_line_on_the_scan_map_shows_its_profile_on_every_page_as_the_command_line_writes_it(private_folders,
                                                                                                  tmp_path):
    at = go(extracted(new_app()), "umap")
    assert "Draw a line on the scan map" in texts(at.caption) and not line_marks(at, "umap")
    at.session_state["selection"] = np.array([3, 5])
    send_shape(at, "umap_map", LINE)
    assert not at.warning and at.session_state["selection"].tolist() == [3, 5]  # a line selects nothing
    assert line_marks(at, "umap")["umap_map"]["x"] == LINE["x"]
    table = profile_table(at)
    assert table["row"].tolist() == drawn_rows(at, "umap_map", LINE) and len(table) > 50
    assert list(table.columns) == ["row", "x_um", "y_um", "distance_um", "misorientation_to_first_deg",
                                   "misorientation_to_previous_deg", "bandcontrast", "latent_0", "latent_1", "latent_2"]
    out = tmp_path / "cli"
    assert main(["profile", at.session_state["latents"], "--line", "5.2,10.1,80.3,50.7", "--bandcontrast",
                 str(DEMO_BANDCONTRAST), "--dims", "0-2", "--out", str(out), "--no-png"]) == 0
    written = pd.read_csv(next(out.glob("line_profile__*.csv")))
    pd.testing.assert_frame_equal(table.reset_index(drop=True), written, check_dtype=False)

    send_shape(at, "umap_scatter", LINE)  # a line on the embedding: refused, nothing changes
    assert len(at.warning) == 1 and "a line on a panel that is not a scan map" in at.warning[0].value
    assert at.session_state["selection"].tolist() == [3, 5]
    assert profile_table(at)["row"].tolist() == table["row"].tolist()

    run(at, "clusters")  # the same line on the Clusters page's map, and its profile
    assert line_marks(at, "clusters")["clusters_map"]["y"] == LINE["y"]
    assert profile_table(at)["row"].tolist() == table["row"].tolist()

    run(at, "maps")  # and on the Latent maps page's click map, where a new one is drawn
    assert line_marks(at, "maps")["maps_picker"]["x"] == LINE["x"]
    down = {**LINE, "x": [30.0, 30.0], "y": [0.0, 60.0]}  # a vertical line: one pixel a row of the scan
    send_shape(at, "maps_picker", down)
    assert line_marks(at, "maps")["maps_picker"]["x"] == down["x"]
    column = profile_table(at)
    assert column["x_um"].eq(30.0).all() and column["y_um"].tolist() == [1.5 * r for r in range(40)]
    assert column["row"].tolist() == drawn_rows(at, "maps_picker", down) == [r * 60 + 20 for r in range(40)]
    run(at.button(key="maps_profile_clear").click())
    assert not line_marks(at, "maps") and "Draw a line on the scan map" in texts(at.caption)
    assert not any("distance_um" in frame.value.columns for frame in at.dataframe)
