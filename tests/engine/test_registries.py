"""The registries the rest of the code and the docs are read from: the readers (`latentcore.data`: each one's
title, name, endings and companions; the EBSD scan formats) and the reference maps
(`records.REFERENCE_MAPS`: one record per map, which the pages, the PNGs, the rankings and the help
texts read). Each test fails when a reader or a map is missing where it is needed: in the README, in
docs/architecture.md's Inputs table, in the docs of references.npz, or in the records themselves."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from latentcore.analysis.ebsd import scan_references as sr
from latentcore.analysis.ebsd.records import LABEL_MAPS, PATTERN_MAPS, REFERENCE_MAPS, in_order, listed
from latentcore.data import open_source, registered_readers, scan_formats
from latentcore.data.base import READER_MODULES
from latentcore.data.orientations import Phase
from latentcore.demo.simulate import ScanSettings, simulate_scan, write_h5oina

REPO = Path(__file__).resolve().parents[2]


def table_rows(markdown: str, heading: str) -> list[list[str]]:
    """The cells of the first table after `heading`, its header and rule left out."""
    section = markdown[markdown.index(heading):]
    lines = re.search(r"(?m)^\|.*(?:\n\|.*)*", section).group(0).splitlines()
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


def test_every_reader_names_its_format_and_endings():
    for reader in registered_readers():
        assert reader.title and reader.format_name and reader.extensions, reader
        assert all(e == "" or (e.startswith(".") and e == e.lower()) for e in reader.extensions), reader
    assert len({reader.title for reader in registered_readers()}) == len(registered_readers())


def test_every_module_that_registers_a_reader_is_named_where_the_registry_imports_them():
    """The registry imports the readers' modules by name when first asked (`base.READER_MODULES`): a reader module
    left out of it would be found only by chance, once something else had imported it."""
    data = REPO / "latentcore" / "data"
    registering = {path.stem for path in data.glob("*.py") if "\n@register\n" in path.read_text()}
    assert registering == set(READER_MODULES)
    assert {reader.__module__.rsplit(".", 1)[1] for reader in registered_readers()} == registering


def test_the_readme_lists_the_scan_formats_of_the_registry():
    listed = re.search(r"(?m)^EBSD scans: (.*)\.$", (REPO / "README.md").read_text()).group(1)
    assert listed.split(", ") == scan_formats()
    assert {"Oxford H5OINA", "Oxford EBSP", "EDAX UP1/UP2", "NORDIF", "Bruker h5ebsd"} <= set(scan_formats())


def test_the_architecture_inputs_table_is_the_registry():
    rows = table_rows((REPO / "docs" / "architecture.md").read_text(), "### Inputs")

    def endings(reader):
        named = [f"`{e}`" if e else "a folder" for e in reader.extensions]
        return ", ".join(named) + "".join(f", with its `{name}`" for name in reader.companions)

    assert [row[:3] for row in rows] == [[reader.title, f"`{reader.format_name}`", endings(reader)]
                                         for reader in registered_readers()]


def test_latents_of_every_scan_format_are_ebsd_patterns():
    """A latents file that records its source's format but no data kind (written before the kind was recorded)."""
    from latentcore.domain import CUTOUTS, EBSD, latents_kind

    scans = [reader.format_name for reader in registered_readers() if reader.ebsd_scan]
    assert {latents_kind({"source_format": name}) for name in scans} == {EBSD} and len(scans) == len(scan_formats())
    assert latents_kind({"source_format": "nenya"}) == CUTOUTS and latents_kind({"source_format": "images"}) is None


# -- reference maps ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def every_map(tmp_path_factory):
    """Every map a scan can give: a simulated scan's, from its orientations (as two phases, so the phase map too)
    and its patterns."""
    scan = simulate_scan(ScanSettings(n_rows=8, n_columns=10, pattern_size=20, n_grains=3, seed=3))
    path = write_h5oina(scan, tmp_path_factory.mktemp("registry") / "scan.h5oina")
    refs = sr.scan_references(path, vbse_grid=(3, 3))
    with open_source(path) as reader:
        single = reader.orientations()
    two = dataclasses.replace(single, phase_id=np.where(scan.grain_id == 0, 2, single.phase_id),
                              phases={**single.phases, 2: Phase("Copper", point_group="m-3m")})
    refs.maps.update(sr.orientation_references(two, scan.x, scan.y).maps)
    return refs


def test_every_map_made_has_its_record_and_the_records_name_only_maps_made(every_map):
    assert list(in_order(every_map.maps)) == list(REFERENCE_MAPS)


def test_every_map_is_drawn_as_its_record_says_in_the_records_order(every_map):
    figures = sr.figures(every_map)
    assert list(figures) == list(REFERENCE_MAPS)
    for name, spec in REFERENCE_MAPS.items():
        fig = figures[name]
        titles = [fig.layout.title.text, *(a.text for a in fig.layout.annotations)]
        assert any(title and title.startswith(spec.title) for title in titles), (name, titles)
        if spec.look == "scalar":
            assert fig.data[0].colorbar.title.text == spec.value_name
        if spec.look == "boundaries":
            assert fig.data[-1].name == "grain boundaries"


def test_the_maps_are_documented_where_their_files_are():
    npz_keys = re.search(r"`references.npz` keys: (.*?)`x`", sr.__doc__, re.S).group(1)
    outputs = (REPO / "docs" / "outputs.md").read_text()
    npz_entry = re.search(r"EBSD reference maps \(`python -m latentcore references`\): (.*?);\n- ", outputs, re.S).group(1)
    ebsd = (REPO / "docs" / "ebsd.md").read_text()
    for name in REFERENCE_MAPS:
        assert f"`{name}`" in npz_keys and f"`{name}`" in npz_entry and f"`{name}`" in ebsd, name


def test_labels_and_pattern_maps_are_read_from_the_records(every_map):
    x, y = np.meshgrid(every_map.x, every_map.y)
    values = every_map.point_values(x.ravel(), y.ravel())
    assert not any(name.split("[")[0] in LABEL_MAPS for name in values) and "grains" in LABEL_MAPS
    assert PATTERN_MAPS == ("vbse_rgb", "iq", "adp")
    assert listed(PATTERN_MAPS) == "VBSE, IQ and ADP"
