"""Small matplotlib helpers shared by the notebooks: one style, labelled axes, no boilerplate."""

import matplotlib.pyplot as plt

STYLE = {
    "figure.figsize": (7.0, 3.2),
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "font.size": 10,
}


def setup():
    """Apply the course's figure style."""
    plt.rcParams.update(STYLE)


def subplots(ncols=1, nrows=1, width=None, height=None):
    """A figure with ``nrows`` x ``ncols`` axes, sized to the number of panels."""
    width = width or 3.6 * ncols
    height = height or 3.0 * nrows
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False, layout="constrained")
    return fig, axes.ravel() if nrows * ncols > 1 else axes[0, 0]


def label(ax, title=None, xlabel=None, ylabel=None, legend=False):
    """Set an axis' title and labels (and a legend) in one call."""
    if title:
        ax.set_title(title)
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if legend:
        ax.legend()
    return ax


def heatmap(ax, values, title=None, xlabel=None, ylabel=None, cmap="coolwarm", colorbar=True):
    """Show a 2-D array as a colour map with a symmetric colour range around 0."""
    bound = float(abs(values).max()) or 1.0
    image = ax.imshow(values, cmap=cmap, vmin=-bound, vmax=bound, aspect="auto")
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.grid(False)
    return label(ax, title, xlabel, ylabel)
