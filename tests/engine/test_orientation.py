"""Orientation maths (latentcore.analysis.ebsd.orientation) against orix, the GPL-3.0 reference used only here:
IPF colours within 1/255 of `IPFColorKeyTSL`, misorientation angles and boundary pixels as orix computes them; the
rotations and their products, written out in numpy, are scipy's."""
import numpy as np
import pytest

from latentcore.analysis.ebsd import orientation as ori
from latentcore.analysis.ebsd.records import KAM_ORDERS, kam_neighbours, kernel_offsets
from latentcore.errors import InputError

orix_symmetry = pytest.importorskip("orix.quaternion.symmetry")
from orix.plot import IPFColorKeyTSL  # noqa: E402
from orix.quaternion import Orientation  # noqa: E402
from orix.vector import Vector3d  # noqa: E402

GROUPS = {"m-3m": "Oh", "6/mmm": "D6h", "4/mmm": "D4h", "-3m": "D3d", "mmm": "D2h"}


def random_euler(n, seed=0):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(0, 2 * np.pi, n), np.arccos(rng.uniform(-1, 1, n)),
                            rng.uniform(0, 2 * np.pi, n)])


@pytest.mark.parametrize("laue", list(GROUPS))
@pytest.mark.parametrize("direction", [(1, 0, 0), (0, 1, 0), (0, 0, 1)])
def test_ipf_colours_match_orix_tsl_key(laue, direction):
    euler = random_euler(1500, seed=len(laue))
    symmetry = getattr(orix_symmetry, GROUPS[laue])
    expected = IPFColorKeyTSL(symmetry, Vector3d(direction)).orientation2color(Orientation.from_euler(euler, symmetry))
    assert np.abs(ori.ipf_colours(euler, laue, direction) - expected).max() < 1 / 255


@pytest.mark.parametrize("laue", ["m-3m", "6/mmm"])
def test_misorientation_angles_match_orix(laue):
    a, b = random_euler(800, 1), random_euler(800, 2)
    symmetry = getattr(orix_symmetry, GROUPS[laue])
    expected = Orientation.from_euler(a, symmetry).angle_with(Orientation.from_euler(b, symmetry))
    np.testing.assert_allclose(ori.misorientation_angles(a, b, laue), expected, atol=1e-9)


def test_rotations_and_their_products_are_scipys_written_out():
    from scipy.spatial.transform import Rotation

    euler = np.vstack([random_euler(500, 4), [[0, 0, 0], [np.pi, np.pi, np.pi], [-1, 7, 3]]])
    ours, scipys = ori.sample_to_crystal(euler), Rotation.from_euler("ZXZ", euler).inv()
    assert (ours.inv() * scipys).magnitude().max() < 1e-12
    s, q = Rotation.random(random_state=1), Rotation.random(50, random_state=2)
    np.testing.assert_allclose(np.abs(np.sum(ori.compose(s.as_quat(), q.as_quat()) * (s * q).as_quat(), axis=1)), 1,
                               atol=1e-12)
    assert np.isnan(ori.sample_to_crystal([[np.nan, 0, 0]]).as_quat()).all()  # not indexed: NaN, as scipy's


def test_boundary_pixels_are_those_orix_misorientations_put_above_the_threshold():
    rng = np.random.default_rng(3)
    grains = np.kron(rng.integers(0, 4, (3, 4)), np.ones((3, 3), int))[:9, :11]  # blocks of 3 x 3
    grain_euler = random_euler(4, 5)
    euler = grain_euler[grains] + rng.normal(0, np.deg2rad(2), (9, 11, 3))  # some pairs near 5 degrees
    phase = np.zeros((9, 11), int)
    phase[0, 0] = -1  # not indexed: never a boundary by itself
    found = ori.boundary_map(euler, phase, {0: "m-3m"})
    to_orix = lambda e: Orientation.from_euler(e.reshape(-1, 3), orix_symmetry.Oh)  # noqa: E731
    right = to_orix(euler[:, :-1]).angle_with(to_orix(euler[:, 1:])).reshape(9, 10) > np.deg2rad(5)
    down = to_orix(euler[:-1]).angle_with(to_orix(euler[1:])).reshape(8, 11) > np.deg2rad(5)
    right[0, 0] = down[0, 0] = False
    expected = np.zeros((9, 11), bool)
    expected[:, :-1] |= right
    expected[:, 1:] |= right
    expected[:-1] |= down
    expected[1:] |= down
    assert 10 < expected.sum() < expected.size - 10
    np.testing.assert_array_equal(found, expected)


def test_points_of_two_phases_meet_at_a_boundary_and_unknown_groups_are_refused():
    euler = np.zeros((2, 2, 3))
    phase = np.array([[1, 1], [2, 2]])
    assert ori.boundary_map(euler, phase, {1: "m-3m", 2: "6/mmm"}).all()
    for unknown in (lambda: ori.ipf_colours(euler.reshape(-1, 3), "2/m"), lambda: ori.ipf_key_image("2/m"),
                    lambda: ori.misorientation_angles(euler[0], euler[1], "m3m ")):
        with pytest.raises(InputError, match=r"no IPF colour key for Laue group .*: choose one of m-3m, 6/mmm"):
            unknown()


def test_kam_and_grains_stop_at_phases_boundaries_and_unindexed_points():
    """Four points in a row: a 1 degree step, a 40 degree step (a boundary), then a point of
    another phase; below, one unindexed point among them."""
    euler = np.zeros((2, 4, 3))
    euler[0, 1, 0] = np.deg2rad(1)
    euler[0, 2:, 0] = np.deg2rad(41)
    euler[1] = euler[0]
    phase = np.array([[0, 0, 0, 1], [-1, 0, 0, 1]])
    laue = {0: "m-3m", 1: "m-3m"}
    kam = ori.kernel_average_misorientation(euler, phase, laue, threshold_deg=2.5)
    np.testing.assert_allclose(kam, [[1, 0.5, 0, 0], [np.nan, 0, 0, 0]], atol=1e-9)
    np.testing.assert_array_equal(ori.grain_map(euler, phase, laue), [[0, 0, 1, 2], [-1, 0, 1, 2]])
    np.testing.assert_array_equal(ori.grain_map(euler, phase, laue, threshold_deg=0.5), [[0, 1, 2, 3], [-1, 1, 2, 3]])
    np.testing.assert_array_equal(ori.grain_sizes(ori.grain_map(euler, phase, laue)), [3, 2, 2])
    lonely = ori.kernel_average_misorientation(euler, np.array([[0, -1, -1, -1], [-1, -1, -1, -1]]), laue)
    assert np.isnan(lonely).all()  # no indexed neighbour: no KAM


def test_point_and_space_groups_name_their_laue_group():
    assert [ori.laue_group(g) for g in ("432", "m-3m", "6/mmm", "622", "4mm", "2/m")] == \
        ["m-3m", "m-3m", "6/mmm", "6/mmm", "4/mmm", None]
    assert [ori.laue_of_space_group(n) for n in (225, 194, 139, 62, 14)] == ["m-3m", "6/mmm", "4/mmm", "mmm", None]


def test_the_colour_key_image_is_the_sector_coloured_and_transparent_elsewhere():
    key = ori.ipf_key_image("m-3m", size=60)
    assert key.shape == (60, 60, 4)
    inside = key[..., 3] == 1
    assert 0.2 < inside.mean() < 0.8
    corners = {label for label, _, _ in ori.ipf_key_corners("m-3m")}
    assert corners == {"[001]", "[101]", "[111]"}
    # [001] is red, [101] green, [111] blue in the TSL key
    rgb = ori.direction_colours(np.array([[0, 0, 1], [1, 0, 1], [1, 1, 1.0]]), "m-3m")
    np.testing.assert_allclose(rgb, np.eye(3), atol=0.02)


# -- Σ3 twin boundaries and MTEX's reconstruction options ---------------------------------------------------------

def orix_sigma3_distances(euler_a, euler_b) -> np.ndarray:
    """orix's symmetry-reduced distance (radians, both crystals cubic) of each misorientation O_b O_a^-1 (the crystal
    frame's, as orix writes a misorientation) to 60° about [111]: its distance matrix with the Σ3 misorientation."""
    from orix.quaternion import Misorientation, Rotation

    oh = orix_symmetry.Oh
    a, b = Orientation.from_euler(euler_a, oh), Orientation.from_euler(euler_b, oh)
    twin = Rotation.from_axes_angles([1, 1, 1], 60, degrees=True)
    stacked = Misorientation(np.concatenate([(b * ~a).data.reshape(-1, 4), twin.data]), symmetry=(oh, oh))
    return stacked.get_distance_matrix(lazy=False)[-1, :-1]


def test_sigma3_distances_are_orixs():
    from scipy.spatial.transform import Rotation

    a = random_euler(300, 7)
    b = random_euler(300, 8)
    b[:100] = np.mod((Rotation.from_euler("ZXZ", a[:100]) *  # the first 100: exact twins, Σ3 in the crystal frame
                      Rotation.from_rotvec(np.deg2rad(-60) * np.ones(3) / np.sqrt(3))).as_euler("ZXZ"), 2 * np.pi)
    ours, expected = ori.sigma3_distances(a, b), orix_sigma3_distances(a, b)
    np.testing.assert_allclose(ours, expected, atol=1e-5)  # arccos near 1: a rounding of 1e-12 is 1e-6 radians
    assert np.rad2deg(expected[:100]).max() < 1e-3 and np.rad2deg(expected[100:]).min() > 1  # twins, and not
    assert np.rad2deg(ori.sigma3_distances(b, a)[:100]).max() < 1e-3  # from either side


def test_boundary_classes_tell_twins_from_high_and_low_angle_boundaries_as_orix_does():
    """Blocks of 3 x 3: a grain, its Σ3 twin, a grain 10° from the first (low-angle) and random ones, each point with
    half a degree of noise; every 4-neighbour pair classed as orix's angles and distances to Σ3 say."""
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(5)
    blocks = np.kron(rng.integers(0, 5, (4, 5)), np.ones((3, 3), int))
    first = Rotation.from_euler("ZXZ", random_euler(1, 9))  # crystal to sample, as scipy's from_euler
    kinds = [first, first * Rotation.from_rotvec(np.deg2rad(-60) * np.ones(3) / np.sqrt(3)),
             first * Rotation.from_rotvec([0, 0, np.deg2rad(10)]), *Rotation.from_euler("ZXZ", random_euler(2, 10))]
    grain_euler = np.mod(np.stack([k.as_euler("ZXZ").ravel() for k in kinds]), 2 * np.pi)
    euler = grain_euler[blocks] + rng.normal(0, np.deg2rad(0.3), (*blocks.shape, 3))
    phase = np.zeros(blocks.shape, int)
    phase[0, 0] = -1
    edges, seen = ori.boundary_classes(euler, phase, {0: "m-3m"}, 5.0), np.zeros(3, int)
    for side, first_half, second_half in (("right", np.s_[:, :-1], np.s_[:, 1:]), ("down", np.s_[:-1], np.s_[1:])):
        a, b = euler[first_half].reshape(-1, 3), euler[second_half].reshape(-1, 3)
        both = ((phase[first_half] >= 0) & (phase[second_half] >= 0)).ravel()
        angle = np.rad2deg(Orientation.from_euler(a, orix_symmetry.Oh).angle_with(
            Orientation.from_euler(b, orix_symmetry.Oh)))
        twin = both & (angle > 5) & (np.rad2deg(orix_sigma3_distances(a, b)) <= 15 / np.sqrt(3))
        np.testing.assert_array_equal(edges[side][first_half].ravel(), both & (angle > 5))
        np.testing.assert_array_equal(edges[f"high_{side}"][first_half].ravel(), both & (angle > 15))
        np.testing.assert_array_equal(edges[f"twin_{side}"][first_half].ravel(), twin)
        seen += [twin.sum(), (both & (angle > 15) & ~twin).sum(), (both & (angle > 5) & (angle <= 15)).sum()]
    assert (seen > 3).all(), seen  # the scene holds every class
    hexagonal = ori.boundary_classes(euler, phase, {0: "6/mmm"}, 5.0)  # Σ3 twins: cubic phases only
    assert hexagonal["right"].any() and not hexagonal["twin_right"].any() and not hexagonal["twin_down"].any()


def test_filling_and_dissolving_follow_the_majority_of_edge_neighbours_repeated_inwards():
    """By hand: not-indexed pixels (-1) fill from the outside in, each from its neighbours in a grain, a tie to the
    smaller id; then grain 2 (one indexed pixel) goes to the grain most of its neighbours are in; grain 0 below, alone
    in a corner of not-indexed pixels, has no kept neighbour without a fill and keeps its pixel."""
    grains = np.array([[0, 0, 0, 1, 1],
                       [0, -1, -1, -1, 1],
                       [0, -1, 2, -1, 1],
                       [3, 3, 3, 3, 3]])
    not_indexed = grains < 0
    filled, given, changes = ori.reconstructed_grains(grains, not_indexed, fill=True)
    # (1, 1): 0 0; (1, 2): 0 2, a tie: 0; (1, 3): 1 1; (2, 1): 0 2 3, a tie: 0; (2, 3): 2 1 3, a tie: 1
    np.testing.assert_array_equal(filled, [[0, 0, 0, 1, 1], [0, 0, 0, 1, 1], [0, 0, 2, 1, 1], [3, 3, 3, 3, 3]])
    assert changes == {"pixels_filled": 5, "grains_dissolved": 0, "pixels_reassigned": 0}
    np.testing.assert_array_equal(given, not_indexed)
    dissolved, given, changes = ori.reconstructed_grains(grains, not_indexed, min_points=2, fill=True)
    assert dissolved[2, 2] == 0  # up 0, left 0, right 1, down 3 (after the fill): most are 0
    np.testing.assert_array_equal(dissolved[3], 2)  # the ids renumbered: no grain 2 before it now
    assert changes == {"pixels_filled": 5, "grains_dissolved": 1, "pixels_reassigned": 1} and given[2, 2]
    corner = np.array([[0, -1, 1], [-1, -1, 1], [1, 1, 1]])
    kept, _, changes = ori.reconstructed_grains(corner, corner < 0, min_points=2)
    np.testing.assert_array_equal(kept, corner)
    assert changes["grains_dissolved"] == 0
    off, _, changes = ori.reconstructed_grains(grains, not_indexed)  # both off: the grain map as it was
    np.testing.assert_array_equal(off, grains)
    assert changes == {"pixels_filled": 0, "grains_dissolved": 0, "pixels_reassigned": 0}
def orix_kam_of_order(euler, phase, threshold_deg, order):
    """KAM (degrees) by looping (test-only): each point's mean of orix's symmetry-reduced angles to the pixels within
    `order` edge steps (|dr| + |dc| <= order: MTEX's square-grid kernel) of its phase, at most `threshold_deg`."""
    n_rows, n_columns = phase.shape
    orientations = Orientation.from_euler(euler.reshape(-1, 3), orix_symmetry.Oh)
    kam = np.full(phase.shape, np.nan)
    for r, c in np.ndindex(phase.shape):
        angles = []
        for dr in range(-order, order + 1):
            for dc in range(-order, order + 1):
                rr, cc = r + dr, c + dc
                if not 0 < abs(dr) + abs(dc) <= order or not (0 <= rr < n_rows and 0 <= cc < n_columns):
                    continue
                if phase[r, c] < 0 or phase[rr, cc] != phase[r, c]:
                    continue
                angle = np.rad2deg(orientations[r * n_columns + c].angle_with(orientations[rr * n_columns + cc]))[0]
                if angle <= threshold_deg:
                    angles.append(angle)
        if angles:
            kam[r, c] = np.mean(angles)
    return kam


@pytest.mark.parametrize("order", [1, 2])
def test_kam_of_each_order_is_the_mean_of_orix_angles_over_its_kernel(order):
    """A 7 x 9 grid of two cubic grains with 1 degree of noise, a point not indexed and a column of another
    phase: KAM of order 2 is the mean over the 12 pixels within two edge steps, as orix's angles give it."""
    rng = np.random.default_rng(11)
    grain = (np.arange(9)[None, :] >= 5).astype(int) * np.ones((7, 1), int)
    euler = random_euler(2, 12)[grain] + rng.normal(0, np.deg2rad(1), (7, 9, 3))
    phase = np.zeros((7, 9), int)
    phase[3, 2] = -1
    phase[:, 8] = 1  # another phase (cubic too): never averaged with phase 0
    found = ori.kernel_average_misorientation(euler, phase, {0: "m-3m", 1: "m-3m"}, 4.0, order=order)
    expected = orix_kam_of_order(euler, phase, 4.0, order)
    np.testing.assert_array_equal(np.isnan(found), np.isnan(expected))
    assert np.isnan(found[3, 2]) and np.isfinite(found).sum() == 62
    np.testing.assert_allclose(found, expected, atol=1e-6)


def test_the_order_2_kernel_is_the_12_pixels_within_two_edge_steps():
    """One pixel turned by 1 degree in a 9 x 9 field: order 1 sees it from its 4 edge neighbours, order 2 from the
    12 within two steps (diagonals and two along a row or column too, each averaging it with 11 unturned
    neighbours), never from (2, 2) away; the turned pixel's own KAM is 1 degree either way."""
    euler = np.zeros((9, 9, 3))
    euler[4, 4, 0] = np.deg2rad(1)
    phase = np.zeros((9, 9), int)
    first = ori.kernel_average_misorientation(euler, phase, {0: "m-3m"}, 5.0, order=1)
    second = ori.kernel_average_misorientation(euler, phase, {0: "m-3m"}, 5.0, order=2)
    assert first[4, 4] == pytest.approx(1) and second[4, 4] == pytest.approx(1)
    seen_by = lambda kam: {(int(r) - 4, int(c) - 4) for r, c in zip(*np.nonzero(kam > 1e-9))} - {(0, 0)}  # noqa: E731
    assert seen_by(first) == {(0, 1), (0, -1), (1, 0), (-1, 0)}
    assert seen_by(second) == {(dr, dc) for dr in range(-2, 3) for dc in range(-2, 3) if 0 < abs(dr) + abs(dc) <= 2}
    assert second[4, 5] == pytest.approx(1 / 12) and second[6, 4] == pytest.approx(1 / 12)
    assert [len(kernel_offsets(order)) * 2 for order in KAM_ORDERS] == [4, 12, 24]
    assert kam_neighbours(2) == "the 12 pixels within 2 edge steps"
    with pytest.raises(InputError, match="KAM order 4: choose one of 1, 2, 3"):
        kernel_offsets(4)
