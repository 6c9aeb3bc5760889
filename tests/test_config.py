"""Config validation: every problem is reported with the key that causes it."""

import copy

import pytest
import yaml

from lrtraj import config as lrconfig
from lrtraj.models import build_model

DEFAULT = yaml.safe_load(lrconfig.DEFAULT_CONFIG.read_text())


def checked(**overlay):
    cfg = lrconfig.deep_update(copy.deepcopy(DEFAULT), overlay)
    lrconfig.validate_schema(cfg)
    lrconfig.check(cfg)
    return cfg


def test_default_and_paper_scale_configs_are_valid():
    checked()
    for name in ("imagenet", "cifar10", "cifar100", "fashion_mnist"):
        cfg = lrconfig.load(lrconfig.DEFAULT_CONFIG.parent / f"{name}.yaml")
        assert cfg["experiment"] == name


def test_defaults_are_filled():
    cfg = copy.deepcopy(DEFAULT)
    del cfg["optimizer"]["nesterov"]
    lrconfig.validate_schema(cfg)
    assert cfg["optimizer"]["nesterov"] is False


def test_filled_defaults_are_not_shared_between_configs():
    # the schema is cached: a filled-in default must be each config's own copy
    a, b = copy.deepcopy(DEFAULT), copy.deepcopy(DEFAULT)
    for cfg in (a, b):
        del cfg["compute"], cfg["model"]["widths"]
        lrconfig.validate_schema(cfg)
    a["compute"]["autocast"] = "bf16"
    a["model"]["widths"].append(128)
    assert b["compute"] == {
        "channels_last": False,
        "autocast": "none",
        "compile": False,
        "cudnn_benchmark": False,
    }
    assert b["model"]["widths"] == [16, 32, 64]


@pytest.mark.parametrize(
    "overlay,key",
    [
        ({"trajectory": {"lr": -1.0}}, "trajectory.lr"),
        ({"trajectory": {"lr": "fast"}}, "trajectory.lr"),
        ({"model": {"name": "vgg"}}, "model.name"),
        ({"sidetrips": {"data_seeds": []}}, "sidetrips.data_seeds"),
        ({"evaluation": {"batchnorm": "freeze"}}, "evaluation.batchnorm"),
        ({"colour": "blue"}, "<top level>: Additional properties are not allowed ('colour'"),
    ],
)
def test_schema_errors_name_the_key(overlay, key):
    with pytest.raises(lrconfig.ConfigError, match=key.replace("(", r"\(")):
        checked(**overlay)


@pytest.mark.parametrize(
    "overlay,message",
    [
        ({"sidetrips": {"branch_steps": [7000]}}, "sidetrips.branch_steps: 7000 is after"),
        ({"sidetrips": {"averaging": {"swa": {"n": 8, "c": 100}}}}, "exceeds the side-trip length"),
        ({"figures": {"fig5": {"branch_step": 4000, "split": "test"}}}, "figures.fig5.branch_step"),
        ({"data": {"name": "cifar10", "data_dir": None}}, "data.data_dir: required"),
    ],
)
def test_relations_between_keys_are_checked(overlay, message):
    with pytest.raises(lrconfig.ConfigError, match=message):
        checked(**overlay)


def test_variants_are_overlays_with_null_removing_keys():
    exps = lrconfig.experiments(checked())
    noisy = exps["digits_noise1.5"]
    assert noisy["experiment"] == "digits_noise1.5" and noisy["data"]["noise_sigma"] == 1.5
    assert list(noisy["sidetrips"]["averaging"]) == ["two_point"]  # ema/swa removed by null
    assert noisy["model"] == exps["digits"]["model"]  # everything else inherited


def test_variant_problems_name_the_variant():
    cfg = checked(variants={"bad": {"trajectory": {"lr": -1}}})
    with pytest.raises(lrconfig.ConfigError, match="(?s)variants.bad: .*trajectory.lr"):
        lrconfig.experiments(cfg)


def test_fig10_needs_known_experiments():
    cfg = checked(figures={"fig10": {"experiments": ["digits", "cifar7"]}})
    with pytest.raises(lrconfig.ConfigError, match=r"figures.fig10.experiments: \['cifar7'\]"):
        lrconfig.experiments(cfg)


def test_convolutions_narrower_than_the_minimum_width_are_refused():
    with pytest.raises(lrconfig.ConfigError, match="model.widths"):
        checked(model={"widths": [4, 8, 8]})
    with pytest.raises(ValueError, match="at least 8"):
        build_model("resnet8", 1, 10, (4, 8, 8))
