import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch

import diffusionlab as dl

matplotlib.use("Agg")


def test_style_and_figure():
    dl.plot.use_style()
    assert matplotlib.rcParams["figure.dpi"] == 80
    fig, axes = dl.plot.figure(3)
    assert axes.shape == (1, 3)
    plt.close(fig)
    with pytest.raises(ValueError, match="ncols"):
        dl.plot.figure(0)


def test_scatter_and_image_grid_validate_shapes():
    fig, axes = dl.plot.figure(2)
    dl.plot.scatter2d(axes[0, 0], torch.randn(50, 2), lim=3)
    assert axes[0, 0].get_xlim() == (-3, 3)
    dl.plot.image_grid(axes[0, 1], torch.rand(10, 1, 8, 8))
    assert axes[0, 1].images[0].get_array().shape == (4 * 9 + 1, 3 * 9 + 1)
    with pytest.raises(ValueError, match="x must"):
        dl.plot.scatter2d(axes[0, 0], torch.randn(5, 3))
    with pytest.raises(ValueError, match="images"):
        dl.plot.image_grid(axes[0, 1], torch.rand(8, 8))
    plt.close(fig)


def test_animate_returns_self_contained_html():
    html = dl.plot.animate(range(3), lambda ax, k: ax.plot([0, k], [0, k]))
    assert "<script" in html and "data:image/png;base64" in html and "http" not in html.split("<script")[1][:200]
    with pytest.raises(ValueError, match="frames"):
        dl.plot.animate([], lambda ax, k: None)


def test_controls_validate():
    with pytest.raises(ValueError, match="low"):
        dl.widgets.Slider(1.0, 0.0, 0.5)
    with pytest.raises(ValueError, match="value"):
        dl.widgets.Slider(0.0, 1.0, 2.0)
    with pytest.raises(ValueError, match="value"):
        dl.widgets.Choice(("a", "b"), "c")
    with pytest.raises(TypeError, match="controls"):
        dl.widgets.explore(lambda x: None, {"x": 3})


def test_explore_static_fallback_draws_defaults():
    seen = {}

    def draw(a, b, c):
        seen.update(a=a, b=b, c=c)
        plt.figure()

    assert dl.widgets.explore(draw, {"a": dl.widgets.Slider(0, 1, 0.25), "b": dl.widgets.Choice(("x", "y")),
                                     "c": dl.widgets.Checkbox(True)}, interactive=False) is None
    assert seen == dict(a=0.25, b="x", c=True)
    plt.close("all")


def test_explore_interactive_builds_widgets():
    box = dl.widgets.explore(lambda t: plt.figure(), {"t": dl.widgets.Slider(0, 1, 0.5)}, interactive=True)
    slider = box.children[0].children[0]
    assert slider.value == 0.5 and slider.max == 1
    plt.close("all")


@pytest.mark.parametrize("name", list(dl.widgets.EXPLORER_SCHEDULES))
def test_schedule_explorer_draws_every_schedule(name):
    # Draw each option through the same path the widget uses, with zero terminal SNR on and off.
    box = dl.widgets.schedule_explorer(interactive=True)
    dropdown, checkbox, slider = box.children[0].children
    for ztsnr in (False, True):
        dropdown.value, checkbox.value, slider.value = name, ztsnr, 1.0
    assert dl.widgets.schedule_explorer(interactive=False) is None
    plt.close("all")
