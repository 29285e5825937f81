"""dl.nets: shapes, validation, parameter counts, the null class, and that each net can learn."""
import dataclasses

import pytest
import torch

from diffusionlab import nets


def n_params(net):
    return sum(p.numel() for p in net.parameters())


def overfit(net, x, t, target, steps, lr, y=None):
    """Fit a fixed batch; returns (first loss, last loss)."""
    opt = torch.optim.Adam(net.parameters(), lr)
    losses = []
    for _ in range(steps):
        out = net(x, t) if y is None else net(x, t, y)
        loss = (out - target).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses[0], losses[-1]


def test_time_embedding():
    emb = nets.TimeEmbedding(32)
    t = torch.tensor([0.0, 0.5, 1.0])
    e = emb(t)
    assert e.shape == (3, 32)
    # t = 0: all sines 0, all cosines 1; the lowest frequency is 1/10000 (DDPM's get_timestep_embedding)
    assert torch.equal(e[0, :16], torch.zeros(16)) and torch.equal(e[0, 16:], torch.ones(16))
    assert torch.allclose(emb.freqs[[0, -1]], torch.tensor([1.0, 1e-4]))
    assert torch.allclose(e[1, 0], torch.sin(torch.tensor(500.0)))
    assert emb(t.double()).dtype == torch.float64
    assert list(emb.state_dict()) == []  # no learned or saved state
    for bad in (0, 3, 2, 7.0):
        with pytest.raises(ValueError, match="dim"):
            nets.TimeEmbedding(bad)


def test_mlp_shapes_params_and_overfit():
    torch.manual_seed(0)
    net = nets.MLP()
    assert net.config == nets.MLPConfig(dim=2, hidden=128, depth=3, time_dim=32)
    assert 30_000 < n_params(net) < 45_000
    x, t = torch.randn(64, 2), torch.rand(64)
    assert net(x, t).shape == (64, 2)
    assert nets.MLP(dim=5, depth=1)(torch.randn(3, 5), torch.rand(3)).shape == (3, 5)
    first, last = overfit(net, x, t, torch.randn(64, 2), steps=300, lr=3e-3)
    assert last < first / 10, (first, last)


def test_unet_shapes_params_and_overfit():
    torch.manual_seed(0)
    net = nets.TinyUNet()
    assert net.config == nets.TinyUNetConfig(channels=16, n_classes=None, time_dim=64)
    assert 40_000 < n_params(net) < 70_000
    assert 40_000 < n_params(nets.TinyUNet(n_classes=10)) < 70_000
    assert 150_000 < n_params(nets.TinyUNet(channels=32)) < 250_000
    x, t = torch.randn(16, 1, 8, 8), torch.rand(16)
    assert net(x, t).shape == (16, 1, 8, 8)
    first, last = overfit(net, x, t, torch.randn(16, 1, 8, 8), steps=200, lr=3e-3)
    assert last < first / 10, (first, last)


def test_unet_class_conditioning_and_null_class():
    torch.manual_seed(0)
    net = nets.TinyUNet(n_classes=10)
    assert net.null_class == 10 and nets.TinyUNet().null_class is None
    # give the class table a visible effect (a fresh embedding is already random, this makes it robust)
    x, t = torch.randn(4, 1, 8, 8), torch.rand(4)
    null = torch.full((4,), 10)
    assert torch.equal(net(x, t), net(x, t, null))
    a, b = net(x, t, torch.tensor([0, 1, 2, 3])), net(x, t, torch.tensor([4, 5, 6, 7]))
    assert (a - b).abs().amax(dim=(1, 2, 3)).min() > 1e-4
    assert not torch.allclose(a, net(x, t))
    # a batch mixing classes and the null class: each row sees only its own label
    mixed = net(x, t, torch.tensor([0, 10, 2, 10]))
    assert torch.allclose(mixed[[0, 2]], a[[0, 2]], atol=1e-6) and torch.allclose(mixed[[1, 3]], net(x, t)[[1, 3]], atol=1e-6)


def test_unet_conditional_overfit():
    torch.manual_seed(1)
    net = nets.TinyUNet(n_classes=3)
    x, t = torch.zeros(6, 1, 8, 8), torch.full((6,), 0.5)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    # the same input, different targets per class: only the label can explain the difference
    target = torch.randn(3, 1, 8, 8)[y]
    first, last = overfit(net, x, t, target, steps=200, lr=3e-3, y=y)
    assert last < first / 10, (first, last)


def test_classifier():
    torch.manual_seed(0)
    clf = nets.DigitsClassifier()
    assert 50_000 < n_params(clf) < 150_000
    x = torch.randn(5, 1, 8, 8)
    assert clf(x).shape == (5, 10) and clf.features(x).shape == (5, 64)
    assert torch.allclose(clf.head(clf.features(x)), clf(x))
    assert nets.DigitsClassifier(feature_dim=16, n_classes=3)(x).shape == (5, 3)


def test_build_and_config_round_trip():
    for name, fields in (("MLP", {"hidden": 32}), ("TinyUNet", {"channels": 8, "n_classes": 4}),
                         ("DigitsClassifier", {"channels": 8})):
        net = nets.build(name, **fields)
        assert type(net).__name__ == name and net.config == nets.build(net.config).config
        again = type(net)(**dataclasses.asdict(net.config))
        assert again.config == net.config
    with pytest.raises(ValueError, match="name_or_config"):
        nets.build("ResNet")
    with pytest.raises(TypeError, match="name_or_config"):
        nets.build(3)
    with pytest.raises(TypeError, match="no extra fields"):
        nets.build(nets.MLPConfig(), hidden=3)


def test_bad_configs():
    with pytest.raises(ValueError, match="hidden"):
        nets.MLP(hidden=0)
    with pytest.raises(ValueError, match="time_dim"):
        nets.MLP(time_dim=33)
    with pytest.raises(TypeError, match="fields are"):
        nets.MLP(width=3)
    with pytest.raises(ValueError, match="channels"):
        nets.TinyUNet(channels=12)
    with pytest.raises(ValueError, match="n_classes"):
        nets.TinyUNet(n_classes=0)
    with pytest.raises(ValueError, match="n_classes"):
        nets.DigitsClassifier(n_classes=1)


def test_bad_inputs():
    mlp, unet, cond, clf = nets.MLP(), nets.TinyUNet(), nets.TinyUNet(n_classes=10), nets.DigitsClassifier()
    img, t = torch.randn(2, 1, 8, 8), torch.rand(2)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, dim\)"):
        mlp(torch.randn(2, 3), t)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 1, 8, 8\)"):
        unet(torch.randn(2, 8, 8), t)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 1, 8, 8\)"):
        clf(torch.randn(2, 3, 8, 8))
    with pytest.raises(TypeError, match="x must be a floating"):
        unet(img.long(), t)
    with pytest.raises(ValueError, match="t must have shape"):
        unet(img, torch.rand(3))
    with pytest.raises(ValueError, match="t must have shape"):
        mlp(torch.randn(2, 2), torch.rand(2, 1))
    with pytest.raises(TypeError, match="t must be a floating"):
        mlp(torch.randn(2, 2), 0.5)
    with pytest.raises(ValueError, match=r"t must be in \[0, 1\]"):
        unet(img, torch.tensor([0.5, 1.5]))
    with pytest.raises(ValueError, match=r"t must be in \[0, 1\]"):
        mlp(torch.randn(2, 2), torch.tensor([0.5, float("nan")]))
    with pytest.raises(ValueError, match="y must be in 0..10"):
        cond(img, t, torch.tensor([0, 11]))
    with pytest.raises(ValueError, match="y must be in"):
        cond(img, t, torch.tensor([-1, 0]))
    with pytest.raises(ValueError, match="y must have shape"):
        cond(img, t, torch.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match="y must be None or an integer"):
        cond(img, t, torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="y must be None: this TinyUNet is unconditional"):
        unet(img, t, torch.tensor([1, 2]))
