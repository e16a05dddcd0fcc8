"""A study as one `Latents` (`latentcore.study.study_latents`, `open_latents`: what the app's pages read) and its
embedding in this process (`embedding.study.study_embedding`), on three small simulated scans (tests/study_scans.py)."""
import numpy as np
import pytest

from latentcore.analysis.embedding.study import fit_study, study_embedding
from latentcore.latents import Latents, read_latents
from latentcore.study import StudyLatents, make_study, open_latents, write_study
from study_scans import scan_latents


@pytest.fixture(scope="module")
def study_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    paths = scan_latents(folder / "latents")
    return write_study(make_study("three", [str(p) for p in paths.values()]), folder), paths


def test_a_study_reads_as_one_latents_of_every_row_with_each_rows_source_row_and_position(study_file):
    path, paths = study_file
    lat = open_latents(path)
    members = [read_latents(p) for p in paths.values()]
    assert isinstance(lat, StudyLatents) and lat.dim == 6 and lat.path == path and lat.grid_shape is None
    matrix, table = lat.stacked()
    np.testing.assert_array_equal(matrix, np.concatenate([m.partitions["all"] for m in members]))
    assert list(table.columns) == ["source", "row", "x_um", "y_um"] and len(table) == 576
    assert table["source"].astype(str).tolist() == ["p"] * 192 + ["q"] * 192 + ["r"] * 192
    assert table["row"].tolist() == [*range(192)] * 3
    np.testing.assert_array_equal(lat.x, np.concatenate([m.x for m in members]))
    np.testing.assert_array_equal(lat.point_maps["Band Contrast"],
                                  np.concatenate([m.point_maps["Band Contrast"] for m in members]))
    assert lat.rows_of(1).tolist() == list(range(192, 384)) and lat.names == ["p", "q", "r"]
    assert [(s.name, s.start, s.rows, s.grid_shape) for s in lat.sources()] == [(n, 192 * i, 192, (12, 16))
                                                                                 for i, n in enumerate("pqr")]
    assert lat.members[2].grid_shape == (12, 16) and lat.units == "um" and "source" not in lat.attrs


def test_a_studys_members_are_views_of_its_stacked_rows_each_value_held_once(study_file):
    path, paths = study_file
    lat = open_latents(path)
    matrix, _ = lat.stacked()
    for index, (member, own) in enumerate(zip(lat.members, (read_latents(p) for p in paths.values()))):
        rows = slice(lat.offsets[index], lat.offsets[index + 1])
        for values, stacked, file_values in ((member.partitions["all"], matrix[rows], own.partitions["all"]),
                                             (member.x, lat.x[rows], own.x), (member.y, lat.y[rows], own.y),
                                             (member.point_maps["Band Contrast"], lat.point_maps["Band Contrast"][rows],
                                              own.point_maps["Band Contrast"])):
            assert np.shares_memory(values, stacked) and values.dtype == file_values.dtype
            np.testing.assert_array_equal(values, file_values)
        assert not isinstance(member.partitions["all"], np.memmap)  # the file's memory map let go


def test_a_study_of_one_file_is_that_file(study_file):
    path, paths = study_file
    one = write_study(make_study("one", [str(paths["q"])]), path.parent)
    lat = open_latents(one)
    assert type(lat) is Latents and lat.path == paths["q"]


def test_the_studys_embedding_here_places_every_row_as_the_fit_places_them(study_file):
    path, _ = study_file
    from latentcore.study import read_study

    study = read_study(path)
    fitted = study_embedding(study, "umap", sample_size=300)
    fit = fit_study(study, "umap", sample_size=300)
    assert fitted.coords.shape == (576, 2) and "seeded sample of 300 of the 576 rows" in fitted.params["approximation"]
    np.testing.assert_allclose(fitted.coords[192:384], fit.place(open_latents(path).partitions["all"][192:384], 192))
    assert set(fitted.reference_index.tolist()) <= set(fit.sample.tolist())


def test_the_studys_embedding_is_kept_and_read_back_by_its_members_and_parameters(study_file, tmp_path, monkeypatch):
    """A study's embedding is kept in the embeddings' cache as a file's fit is (the Clusters page finds it there,
    and a new server reads it rather than fitting and placing every row again), named by its members, its
    parameters and the rows kept."""
    from latentcore.analysis.embedding import study as embedding
    from latentcore.study import read_study

    path, paths = study_file
    study = read_study(path)
    fitted = study_embedding(study, "umap", sample_size=300, cache_dir=tmp_path)
    cache_file = embedding.embedding_cache_file(study, "umap", sample_size=300, cache_dir=tmp_path)
    assert cache_file.is_file() and [p.name for p in tmp_path.glob("umap-study-*.npz")] == [cache_file.name]
    monkeypatch.setattr(embedding, "fit_study", lambda *args, **kwargs: pytest.fail("fitted again"))
    again = study_embedding(study, "umap", sample_size=300, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.coords, fitted.coords)
    np.testing.assert_array_equal(again.reference_index, fitted.reference_index)
    assert again.params == fitted.params and "seeded sample of 300 of the 576 rows" in again.params["approximation"]
    two = make_study("two", [str(paths["p"]), str(paths["q"])])
    others = [embedding.embedding_cache_file(study, "umap", sample_size=300, random_state=1, cache_dir=tmp_path),
              embedding.embedding_cache_file(study, "umap", sample_size=200, cache_dir=tmp_path),
              embedding.embedding_cache_file(study, "pca", sample_size=300, cache_dir=tmp_path),
              embedding.embedding_cache_file(study, "umap", sample_size=300, cache_dir=tmp_path,
                                             kept=np.arange(576) % 2 == 0),
              embedding.embedding_cache_file(two, "umap", sample_size=300, cache_dir=tmp_path)]
    assert len({cache_file, *others}) == 6
    assert embedding.embedding_cache_file(study, "umap", sample_size=300, cache_dir=False) is None


def test_rows_of_a_study_of_cutout_files_are_shown_with_their_own_metadata(tmp_path):
    """The pages' tables and downloads of a study's rows (`rows_frame`), in any order: each row's source and row,
    then its own partition, index and metadata read from its file (a Nenya study's each cutout's place)."""
    import pandas as pd

    from latentcore.latents import LatentsWriter

    paths = []
    for i, n in enumerate((30, 20)):
        writer = LatentsWriter(tmp_path / f"c{i}__m_latents.h5", {"valid": (n, 4)}, {})
        writer.write_rows("valid", 0, np.random.default_rng(i).normal(size=(n, 4)).astype(np.float32))
        writer.write_metadata("valid", pd.DataFrame({"lat": np.arange(n) + 100.0 * i}))
        paths.append(writer.finish({"model": "m", "model_sha256": "ab" * 32, "source": f"c{i}.h5",
                                    "source_sha256": "cd" * 32}))
    lat = open_latents(write_study(make_study("two", paths), tmp_path))
    frame = lat.rows_frame([45, 3, 31, 0], {"umap_0": np.arange(4.0)}, lat.stacked()[1])
    assert list(frame.columns) == ["source", "row", "umap_0", "partition", "index", "lat"]
    assert frame[["source", "row", "index", "lat"]].astype(str).values.tolist() == [
        ["c1", "15", "15", "115.0"], ["c0", "3", "3", "3.0"], ["c1", "1", "1", "101.0"], ["c0", "0", "0", "0.0"]]
    assert lat.rows_frame([], {}, lat.stacked()[1]).empty
