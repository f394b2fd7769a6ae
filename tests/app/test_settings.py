"""The host's settings by environment variable: read once, each checked, a clear message when one is wrong."""

import pytest

from demo.settings import ENVIRONMENT, AppConfig


def test_each_variable_sets_its_setting():
    config = AppConfig.from_env(
        {"CHARLM_GENERATION_STREAMS": "0", "CHARLM_MAX_JOBS": "3", "CHARLM_MAX_JOB_MINUTES": "12.5"}
    )
    assert (config.generation_streams, config.max_jobs, config.max_job_minutes) == (0, 3, 12.5)
    assert len(set(ENVIRONMENT.values())) == len(ENVIRONMENT)  # one variable per setting


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("lots", "must be a whole number"),
        ("2.5", "must be a whole number"),
        ("-4", "must be 0 or more"),
        ("nan", "must be a whole number"),
    ],
)
def test_a_wrong_value_names_its_variable(value, said):
    with pytest.raises(ValueError, match=f"CHARLM_GENERATION_STREAMS {said}"):
        AppConfig.from_env({"CHARLM_GENERATION_STREAMS": value})


def test_a_negative_or_nan_time_is_refused():
    with pytest.raises(ValueError, match="CHARLM_MAX_JOB_MINUTES must be 0 or more"):
        AppConfig.from_env({"CHARLM_MAX_JOB_MINUTES": "-1"})
    with pytest.raises(ValueError, match="CHARLM_CHUNK_SECONDS must be 0 or more"):
        AppConfig.from_env({"CHARLM_CHUNK_SECONDS": "nan"})


def test_the_sampler_precision_is_one_of_the_samplers():
    assert AppConfig.from_env({"CHARLM_SAMPLER_PRECISION": "int8"}).sampler_precision == "int8"
    assert AppConfig.from_env({}).sampler_precision == "fp32"
    with pytest.raises(ValueError, match="CHARLM_SAMPLER_PRECISION must be one of fp32, int8"):
        AppConfig.from_env({"CHARLM_SAMPLER_PRECISION": "fp16"})


def test_every_costly_view_shares_the_bounded_heavy_pool(tmp_path):
    """Work that can take hundreds of MB or seconds of CPU per call waits in the bounded pool (one call per visitor
    at a time), never runs unbounded: forty guesses at once once killed an 8 GB server."""
    from demo.app import CharLMApp

    demo = CharLMApp(AppConfig(sessions_root=tmp_path)).build()
    limits = {fn.api_name: (fn.concurrency_id, fn.concurrency_limit) for fn in demo.fns.values()}
    costly = ("next_char_guesses", "one_batch", "one_character", "unroll", "look_inside", "toy", "upload_checkpoint")
    for name in costly:
        assert limits[name] == ("heavy", AppConfig().heavy_concurrency), name
