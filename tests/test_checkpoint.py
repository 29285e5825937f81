"""dl.checkpoint: safetensors + JSON card round trips, the card's contents, validated loading with errors
that name what differs, atomic writes with readable permissions; and the shipped digits classifier."""
import dataclasses
import hashlib
import json
import os
import stat

import diffusionlab as dl
import pytest
import torch
from diffusionlab import checkpoint, nets

NETS = {
    "mlp": lambda: nets.MLP(hidden=32, depth=3),
    "unet": lambda: nets.TinyUNet(channels=8, time_dim=16),
    "unet_cond": lambda: nets.TinyUNet(channels=8, n_classes=10, time_dim=16),
    "classifier": lambda: nets.DigitsClassifier(channels=8, feature_dim=16),
}


def _inputs(name, seed=0):
    g = torch.Generator().manual_seed(seed)
    if name == "mlp":
        return (torch.randn(5, 2, generator=g), torch.rand(5, generator=g))
    x = torch.randn(5, 1, 8, 8, generator=g)
    if name == "classifier":
        return (x,)
    t = torch.rand(5, generator=g)
    if name == "unet_cond":
        return (x, t, torch.tensor([0, 3, 9, 10, 2]))  # 10 is the null class
    return (x, t)


def _fresh(name, seed):
    torch.manual_seed(seed)
    return NETS[name]().eval()


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def umask022():
    old = os.umask(0o022)
    yield
    os.umask(old)


# ----------------------------------------------------------------------------- round trips and the card
@pytest.mark.parametrize("name", list(NETS))
def test_round_trip_gives_identical_outputs(tmp_path, name):
    src, dst = _fresh(name, 1), _fresh(name, 2)
    args = _inputs(name)
    with torch.no_grad():
        want = src(*args)
        assert not torch.equal(dst(*args), want)  # the two inits differ, so the test can fail
    dl.save_checkpoint(tmp_path / name, src)
    loaded, card = dl.load_checkpoint(tmp_path / name, dst)
    assert loaded is dst
    built, card2 = dl.load_checkpoint(tmp_path / name)  # model=None: rebuilt from the card via dl.nets.NETS
    assert type(built) is type(src) and built.config == src.config and card2 == card
    with torch.no_grad():
        assert torch.equal(dst(*args), want)
        assert torch.equal(built.eval()(*args), want)
    for a, b in zip(src.state_dict().values(), built.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", list(NETS))
def test_card_contents(tmp_path, name):
    net = _fresh(name, 0)
    extra = {"command": "python train.py --steps 10", "metrics": {"loss": 0.25, "ok": True, "list": [1, 2.5, None]}}
    written = dl.save_checkpoint(tmp_path / "ck", net, card=extra)
    on_disk = json.loads((tmp_path / "ck.json").read_text())
    assert written == on_disk
    assert on_disk["format"] == dl.CARD_FORMAT == 1
    assert on_disk["class"] == type(net).__name__
    assert on_disk["config"] == json.loads(json.dumps(dataclasses.asdict(net.config)))
    assert on_disk["tensors"] == {k: list(v.shape) for k, v in net.state_dict().items()}
    assert on_disk["sha256"] == hashlib.sha256((tmp_path / "ck.safetensors").read_bytes()).hexdigest()
    assert on_disk["command"] == extra["command"] and on_disk["metrics"] == extra["metrics"]
    assert list(on_disk)[:5] == ["format", "class", "config", "tensors", "sha256"]
    _, loaded_card = dl.load_checkpoint(tmp_path / "ck")
    assert loaded_card == on_disk
    assert extra == {"command": "python train.py --steps 10",
                     "metrics": {"loss": 0.25, "ok": True, "list": [1, 2.5, None]}}  # caller's dict untouched


def test_unet_card_keeps_n_classes_none_and_int(tmp_path):
    c0 = dl.save_checkpoint(tmp_path / "u0", nets.TinyUNet(channels=8))
    c1 = dl.save_checkpoint(tmp_path / "u1", nets.TinyUNet(channels=8, n_classes=3))
    assert c0["config"]["n_classes"] is None and c1["config"]["n_classes"] == 3
    assert "label.weight" not in c0["tensors"] and c1["tensors"]["label.weight"] == [4, 32]  # K + 1 rows
    assert dl.load_checkpoint(tmp_path / "u0")[0].null_class is None
    assert dl.load_checkpoint(tmp_path / "u1")[0].null_class == 3


def test_paths_with_or_without_suffix(tmp_path):
    net = _fresh("mlp", 0)
    x, t = _inputs("mlp")
    with torch.no_grad():
        want = net(x, t)
    folder = tmp_path / "deep" / "er"  # missing folders are created
    dl.save_checkpoint(folder / "model.safetensors", net)
    assert _files(folder) == ["model.json", "model.safetensors"]
    dl.save_checkpoint(str(folder / "other.json"), net)
    dl.save_checkpoint(str(folder / "unet_v1.2"), net)  # a dotted stem is kept, not treated as a suffix
    assert _files(folder) == ["model.json", "model.safetensors", "other.json", "other.safetensors",
                              "unet_v1.2.json", "unet_v1.2.safetensors"]
    for p in (folder / "model", folder / "model.json", str(folder / "model.safetensors"), folder / "unet_v1.2",
              str(folder / "unet_v1.2.json")):
        loaded, _ = dl.load_checkpoint(p)
        with torch.no_grad():
            assert torch.equal(loaded(x, t), want)


def test_overwrite_replaces_both_files(tmp_path):
    a, b = _fresh("mlp", 0), _fresh("mlp", 1)
    dl.save_checkpoint(tmp_path / "m", a, card={"run": 1})
    dl.save_checkpoint(tmp_path / "m", b, card={"run": 2})
    loaded, card = dl.load_checkpoint(tmp_path / "m")
    assert card["run"] == 2
    assert torch.equal(loaded.out.weight, b.out.weight)
    assert _files(tmp_path) == ["m.json", "m.safetensors"]


def test_load_keeps_train_or_eval_mode(tmp_path):
    net = _fresh("mlp", 0)
    dl.save_checkpoint(tmp_path / "m", net)
    target = _fresh("mlp", 1).train()
    assert dl.load_checkpoint(tmp_path / "m", target)[0].training
    target.eval()
    assert not dl.load_checkpoint(tmp_path / "m", target)[0].training


def test_custom_registry(tmp_path):
    class Wide(nets.MLP):
        pass

    dl.save_checkpoint(tmp_path / "w", Wide(hidden=16))
    loaded, card = dl.load_checkpoint(tmp_path / "w", registry={"Wide": Wide})
    assert type(loaded) is Wide and card["class"] == "Wide"
    with pytest.raises(ValueError, match="registry"):
        dl.load_checkpoint(tmp_path / "w")  # "Wide" is not in dl.nets.NETS
    with pytest.raises(TypeError, match="registry"):
        dl.load_checkpoint(tmp_path / "w", registry=[Wide])


# ----------------------------------------------------------------------------- validated loading
def test_wrong_class(tmp_path):
    dl.save_checkpoint(tmp_path / "m", _fresh("mlp", 0))
    with pytest.raises(ValueError, match=r"TinyUNet.*MLP"):
        dl.load_checkpoint(tmp_path / "m", nets.TinyUNet(channels=8, time_dim=16))


def test_different_config_field_is_named(tmp_path):
    dl.save_checkpoint(tmp_path / "m", nets.MLP(hidden=32))
    with pytest.raises(ValueError, match=r"'hidden' is 64 .*hidden=32"):
        dl.load_checkpoint(tmp_path / "m", nets.MLP(hidden=64))
    dl.save_checkpoint(tmp_path / "u", nets.TinyUNet(channels=8, n_classes=10))
    with pytest.raises(ValueError, match="n_classes"):
        dl.load_checkpoint(tmp_path / "u", nets.TinyUNet(channels=8))


def _edit_card(json_path, **config):
    card = json.loads(json_path.read_text())
    card["config"].update(config)
    json_path.write_text(json.dumps(card))
    return card


def test_wrong_tensor_shape_is_named(tmp_path):
    """A card edited consistently (config says hidden=64) over a tensor file written with hidden=32: the sha256
    still matches (it covers the tensors only), so the shape check is what catches it, naming the tensor."""
    dl.save_checkpoint(tmp_path / "m", nets.MLP(hidden=32))
    _edit_card(tmp_path / "m.json", hidden=64)
    with pytest.raises(ValueError, match=r"tensor 'inp\.weight' has shape \(32, 34\) .* but \(64, 34\)"):
        dl.load_checkpoint(tmp_path / "m")  # built from the (edited) card
    with pytest.raises(ValueError, match=r"inp\.weight"):
        dl.load_checkpoint(tmp_path / "m", nets.MLP(hidden=64))  # config agrees with the card, tensors do not


def test_missing_and_unexpected_tensors_are_named(tmp_path):
    dl.save_checkpoint(tmp_path / "m", nets.MLP(hidden=32, depth=3))
    _edit_card(tmp_path / "m.json", depth=4)
    with pytest.raises(ValueError, match=r"missing tensors \['hidden\.2\.weight', 'hidden\.2\.bias'\]"):
        dl.load_checkpoint(tmp_path / "m")
    _edit_card(tmp_path / "m.json", depth=2)
    with pytest.raises(ValueError, match=r"unexpected tensors \['hidden\.1\.bias', 'hidden\.1\.weight'\]"):
        dl.load_checkpoint(tmp_path / "m")


def test_tampered_tensor_file(tmp_path):
    net = _fresh("mlp", 0)
    dl.save_checkpoint(tmp_path / "m", net)
    st = tmp_path / "m.safetensors"
    blob = bytearray(st.read_bytes())
    blob[-3] ^= 0x01  # one bit of one weight: still a valid safetensors file, with a different sha256
    st.write_bytes(bytes(blob))
    target = _fresh("mlp", 1)
    before = [p.clone() for p in target.parameters()]
    with pytest.raises(ValueError, match=r"m\.safetensors is corrupted or was modified: sha256"):
        dl.load_checkpoint(tmp_path / "m", target)
    assert all(torch.equal(a, b) for a, b in zip(before, target.parameters()))  # nothing was loaded


def test_missing_files(tmp_path):
    dl.save_checkpoint(tmp_path / "m", _fresh("mlp", 0))
    (tmp_path / "m.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"card not found: .*m\.json"):
        dl.load_checkpoint(tmp_path / "m")
    dl.save_checkpoint(tmp_path / "n", _fresh("mlp", 0))
    (tmp_path / "n.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=r"tensors not found: .*n\.safetensors"):
        dl.load_checkpoint(tmp_path / "n")
    with pytest.raises(FileNotFoundError, match="nothing"):
        dl.load_checkpoint(tmp_path / "nothing")


def test_bad_cards(tmp_path):
    dl.save_checkpoint(tmp_path / "m", _fresh("mlp", 0))
    json_path = tmp_path / "m.json"
    good = json_path.read_text()
    json_path.write_text(good[:-20])
    with pytest.raises(ValueError, match="not valid JSON"):
        dl.load_checkpoint(tmp_path / "m")
    json_path.write_text("[1, 2]")
    with pytest.raises(ValueError, match=r"lacks the keys \['format', 'class', 'config', 'tensors', 'sha256'\]"):
        dl.load_checkpoint(tmp_path / "m")
    card = json.loads(good)
    del card["sha256"]
    json_path.write_text(json.dumps(card))
    with pytest.raises(ValueError, match=r"lacks the keys \['sha256'\]"):
        dl.load_checkpoint(tmp_path / "m")
    card = json.loads(good)
    card["format"] = 2
    json_path.write_text(json.dumps(card))
    with pytest.raises(ValueError, match="format 2"):
        dl.load_checkpoint(tmp_path / "m")
    for key, value in (("config", [32, 3]), ("config", "hidden=32"), ("class", ["MLP"]), ("class", None)):
        card = json.loads(good)
        card[key] = value
        json_path.write_text(json.dumps(card))
        for model in (None, nets.MLP(hidden=32)):
            with pytest.raises(ValueError, match=rf"must hold a class name \(string\) and a config \(object\).*{key}="):
                dl.load_checkpoint(tmp_path / "m", model)


@pytest.mark.parametrize("key", ["format", "class", "config", "tensors", "sha256"])
def test_card_with_reserved_keys_writes_nothing(tmp_path, key):
    with pytest.raises(ValueError, match=rf"card must not set the reserved keys .*\['{key}'\]"):
        dl.save_checkpoint(tmp_path / "sub" / "m", _fresh("mlp", 0), card={key: 1, "fine": 2})
    assert not (tmp_path / "sub").exists()


@pytest.mark.parametrize("bad", [{"x": object()}, {"x": float("nan")}, {"x": torch.ones(2)}, {"x": {1, 2}},
                                 {("a", "b"): 1}], ids=["object", "nan", "tensor", "set", "tuple-key"])
def test_non_serialisable_card_writes_nothing(tmp_path, bad):
    with pytest.raises(TypeError, match="card must be JSON-serialisable"):
        dl.save_checkpoint(tmp_path / "sub" / "m", _fresh("mlp", 0), card=bad)
    assert not (tmp_path / "sub").exists()
    # and an existing checkpoint is left as it was
    dl.save_checkpoint(tmp_path / "m", _fresh("mlp", 0), card={"v": 1})
    with pytest.raises(TypeError, match="card"):
        dl.save_checkpoint(tmp_path / "m", _fresh("mlp", 1), card=bad)
    assert dl.load_checkpoint(tmp_path / "m")[1]["v"] == 1
    assert _files(tmp_path) == ["m.json", "m.safetensors"]


def test_models_without_a_dataclass_config(tmp_path):
    with pytest.raises(TypeError, match=r"model must carry a dataclass instance as \.config"):
        dl.save_checkpoint(tmp_path / "lin", torch.nn.Linear(2, 2))
    net = nets.MLP()
    net.config = nets.MLPConfig  # the class, not an instance
    with pytest.raises(TypeError, match="model must carry a dataclass"):
        dl.save_checkpoint(tmp_path / "m", net)
    dl.save_checkpoint(tmp_path / "ok", nets.MLP())
    with pytest.raises(ValueError, match="model is a Linear but checkpoint .* holds a MLP"):
        dl.load_checkpoint(tmp_path / "ok", torch.nn.Linear(2, 2))

    class MLP(torch.nn.Module):  # the right class name, but no config to compare with the card's
        pass

    with pytest.raises(TypeError, match=r"model must carry a dataclass instance as \.config"):
        dl.load_checkpoint(tmp_path / "ok", MLP())
    assert not (tmp_path / "lin.json").exists() and not (tmp_path / "m.json").exists()


def test_bad_arguments(tmp_path):
    net = _fresh("mlp", 0)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        dl.save_checkpoint(tmp_path / "m", {"w": torch.ones(1)})
    with pytest.raises(TypeError, match="card must be a dict"):
        dl.save_checkpoint(tmp_path / "m", net, card=[("a", 1)])
    for bad in (3, None, b"m"):
        with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
            dl.save_checkpoint(bad, net)
        with pytest.raises(TypeError, match="path"):
            dl.load_checkpoint(bad)
    for bad in ("", ".json", ".safetensors", str(tmp_path) + os.sep):
        with pytest.raises(ValueError, match="path must name a file"):
            dl.save_checkpoint(bad, net)
    dl.save_checkpoint(tmp_path / "m", net)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module or None"):
        dl.load_checkpoint(tmp_path / "m", "MLP")
    assert _files(tmp_path) == ["m.json", "m.safetensors"]


# ----------------------------------------------------------------------------- atomic, readable files
def test_atomic_write_leaves_no_temp_files_and_readable_permissions(tmp_path, umask022):
    dl.save_checkpoint(tmp_path / "m", _fresh("unet", 0))
    dl.save_checkpoint(tmp_path / "m", _fresh("unet", 1))  # overwrite
    assert _files(tmp_path) == ["m.json", "m.safetensors"]
    for name in ("m.json", "m.safetensors"):
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode == 0o644 and mode & 0o044  # 0666 minus umask 022, not mkstemp's private 0600


def test_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        dl.save_checkpoint(tmp_path / "m", _fresh("mlp", 0))
    finally:
        os.umask(old)
    assert os.umask(old) == old  # the umask is restored by the save
    for name in ("m.json", "m.safetensors"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640


def test_failed_write_removes_its_temp_file_and_keeps_the_old_file(tmp_path, monkeypatch):
    dl.save_checkpoint(tmp_path / "m", _fresh("mlp", 0), card={"v": 1})
    old_bytes = (tmp_path / "m.safetensors").read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        dl.save_checkpoint(tmp_path / "m", _fresh("mlp", 1), card={"v": 2})
    monkeypatch.undo()
    assert _files(tmp_path) == ["m.json", "m.safetensors"]  # no .m.safetensors.*.tmp left behind
    assert (tmp_path / "m.safetensors").read_bytes() == old_bytes
    assert dl.load_checkpoint(tmp_path / "m")[1]["v"] == 1


def test_failed_chmod_closes_and_removes_the_temp_file(tmp_path, monkeypatch):
    """If anything fails before the temp file is handed to a file object, its descriptor must still be closed
    and the file removed (a leaked descriptor per failed save otherwise)."""
    opened = []
    real_mkstemp = checkpoint.tempfile.mkstemp

    def spy_mkstemp(*args, **kwargs):
        fd, name = real_mkstemp(*args, **kwargs)
        opened.append(fd)
        return fd, name

    def broken_fchmod(fd, mode):
        raise PermissionError("no chmod here")

    monkeypatch.setattr(checkpoint.tempfile, "mkstemp", spy_mkstemp)
    monkeypatch.setattr(os, "fchmod", broken_fchmod)
    with pytest.raises(PermissionError):
        dl.save_checkpoint(tmp_path / "m", _fresh("mlp", 0))
    assert opened
    for fd in opened:  # checked before anything else opens a file (which could reuse the number)
        with pytest.raises(OSError):
            os.fstat(fd)  # closed
    monkeypatch.undo()
    assert _files(tmp_path) == []


# ----------------------------------------------------------------------------- the shipped digits classifier
def test_shipped_classifier_loads_and_its_card_is_true():
    model, card = dl.digits_classifier()
    assert isinstance(model, nets.DigitsClassifier) and not model.training
    assert card["class"] == "DigitsClassifier" and card["format"] == dl.CARD_FORMAT
    assert not any(p.requires_grad for p in model.parameters())
    assert dl.digits_classifier()[0] is model  # cached
    acc_card = card["metrics"]["test_accuracy"]
    assert acc_card >= 0.95
    x, y = dl.digits("test")
    assert card["metrics"]["n_test"] == y.numel() == 297
    with torch.no_grad():
        acc = (model(x).argmax(1) == y).double().mean().item()
    assert round(acc, 4) == acc_card
    # the files validate on their own too (sha256, class, config, shapes)
    stem = dl.checkpoint.shipped_dir() / "digits_classifier"
    _, card2 = dl.load_checkpoint(stem)
    assert card2 == card
    assert card["sha256"] == hashlib.sha256(stem.with_name("digits_classifier.safetensors").read_bytes()).hexdigest()


def test_digits_frechet_matches_the_card_baseline():
    _, card = dl.digits_classifier()
    train, _ = dl.digits("train")
    test, _ = dl.digits("test")
    fd = dl.digits_frechet(train, test).item()
    assert fd == pytest.approx(card["metrics"]["frechet_train_vs_test"], rel=1e-6)
    assert dl.digits_frechet(test, test).item() == pytest.approx(0.0, abs=1e-6)
    assert dl.digits_frechet(train.double(), test).item() == pytest.approx(fd, rel=1e-9)  # cast to float32


def test_digits_frechet_bad_shapes():
    x, _ = dl.digits("test")
    for bad in (x.reshape(-1, 64), x[:, :, :, :7], x[0], x.numpy()):
        with pytest.raises(ValueError, match="images_a"):
            dl.digits_frechet(bad, x)
        with pytest.raises(ValueError, match="images_b"):
            dl.digits_frechet(x, bad)
    with pytest.raises(ValueError, match="images_a"):
        dl.digits_frechet(x[:1], x)  # one image has no covariance


def test_pretrained_digits_ddpm_loads_and_denoises():
    model, card = dl.pretrained("digits_ddpm")
    assert isinstance(model, nets.TinyUNet) and not model.training
    assert dl.pretrained("digits_ddpm")[0] is model  # cached
    assert card["class"] == "TinyUNet" and card["recipe"]["steps"] == 8000
    # the card's Frechet distance lies between the train-vs-test floor and noise, and the net denoises:
    # at t = 0.3 its x0 estimate is much closer to the clean test digits than x_t is
    assert card["metrics"]["frechet_train297_vs_test"] < card["metrics"]["frechet_vs_test"] < 400
    x, _ = dl.digits("test")
    schedule = dl.VPLinear()
    x_t, _ = dl.noisy(x, 0.3, schedule, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        x0_hat = dl.denoiser(model, schedule, target="eps")(x_t, 0.3)
    assert ((x0_hat - x) ** 2).mean() < 0.25 * ((x_t / schedule.alpha(0.3) - x) ** 2).mean()


def test_pretrained_bad_name():
    with pytest.raises(ValueError, match="name must be one of"):
        dl.pretrained("imagenet")
