import pytest

from vdm.world import Difficulty, World, WorldConfig, WorldConfigError, WorldDataset, sample_scene


def test_defaults_match_the_paper_sampling():
    cfg = WorldConfig()
    assert (cfg.num_frames, cfg.height, cfg.width) == (16, 64, 64)
    assert cfg.event_frames == (2, 6)
    assert cfg.near_px == round(0.12 * 64)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("height", 4),
        ("width", 300),
        ("num_frames", 2),
        ("colours", ("red", "purple")),
        ("colours", ()),
        ("shapes", ("circle", "circle")),
        ("background", (255, 0, 0)),  # the colour red cannot be told from this background
        ("small_size", 0.2),
        ("min_event_frames", 1),
        ("speed", (0.05, 0.01)),
        ("actions", ("fly",)),
    ],
)
def test_invalid_config_names_the_field(field, value):
    with pytest.raises(WorldConfigError) as err:
        WorldConfig(**{field: value})
    assert err.value.field.startswith(field.split("_")[0]) or field in str(err.value)


def test_levels_and_easiness():
    for k in (1, 2, 3):
        assert Difficulty.level(k).is_easy
    for k in (4, 5, 6):
        assert not Difficulty.level(k).is_easy
    assert Difficulty.level(6).num_events == (5, 6)
    with pytest.raises(WorldConfigError):
        Difficulty.level(7)
    with pytest.raises(WorldConfigError):
        Difficulty(num_events=(3, 1))
    with pytest.raises(WorldConfigError):
        Difficulty(detail="huge")


def test_impossible_knobs_fail_before_sampling():
    with pytest.raises(WorldConfigError, match="frame steps"):
        sample_scene(0, WorldConfig(num_frames=6), Difficulty(num_events=(6, 6)))
    with pytest.raises(WorldConfigError):
        World(difficulty="hard")
    with pytest.raises(WorldConfigError):
        WorldDataset("dev")
