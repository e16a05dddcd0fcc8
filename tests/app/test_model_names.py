"""A model trained here is named by its user, and the name travels: recorded in the checkpoint, it names the model
on the Extract page, its latents file, the sidebar's "made by" and both files on the Compare page (AppTest on the
real app and pages, the run trained by the engine into the workspace's models folder as the Train page does)."""
from pathlib import Path

import pytest

from latentcore.analysis.maps import Roi
from latentcore.demo import DEMO_SCAN
from latentcore.train import TrainConfig, train_vae

from driving import extracted, go, new_app, run, texts
from ui.widgets.common import plain

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("one_torch_thread", "private_folders")]

NAME = "grain finder *2*"  # kept as typed, drawn as typed (not in italics); a file name takes `grain-finder-2`


def test_a_models_name_names_its_latents_file_the_sidebar_and_the_compare_page():
    at = extracted(new_app())  # the demo latents, by demo-vae: the first file on the Compare page
    models = Path(at.session_state["workdir"]) / "models"
    train_vae(TrainConfig(DEMO_SCAN, models / "vae-run", name=NAME, roi=Roi(0.0, 28.5, 0.0, 28.5), input_size=16,
                          latent_dim=3, channels=(4, 8), epochs=1, device="cpu"))
    go(at, "train")  # the workspace's last finished run: its model joins the session's, under its name
    assert f'offers it as "{plain(NAME)}"' in texts(at.success)

    go(at, "extract")
    run(at.selectbox(key="extract_model").set_value(NAME))
    assert any(c.value.startswith("grain-finder-2: vae") for c in at.caption)  # the tag naming its files
    run(at.button(key="extract_run").click())
    latents = Path(at.session_state["latents"])
    assert latents.name == "ni_grains_h5ebsd__grain-finder-2_latents.h5"
    assert f"made by {plain(NAME)} (SHA-256" in texts(at.sidebar.caption)
    assert "made by demo-vae (SHA-256" not in texts(at.sidebar.caption)

    go(at, "compare")
    assert [h.value for h in at.subheader][0] == "grain-finder-2 vs demo-vae"
    table = at.dataframe[0].value
    assert list(table["model"]) == ["grain-finder-2", "demo-vae"]
    assert "ni_grains_h5ebsd · demo-vae · 2,400 rows" in at.selectbox(key="compare_other").options

