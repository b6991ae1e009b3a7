"""Charts for analysts (matplotlib, CJK labels via the bundled Noto Sans CJK SC font).

Every chart function returns a :class:`matplotlib.figure.Figure` with its text in the active
language (:func:`pipeline.i18n.use`, Chinese by default) or, for one call, in the language of an
optional ``lang="zh"|"en"`` keyword (:func:`pipeline.i18n.localized`), and can be saved as PNG and SVG with :func:`pipeline.plots.style.save`. Chart modules:
:mod:`pipeline.plots.compare` (horizontal/vertical/trend), :mod:`pipeline.plots.weights`
(sensitivity), :mod:`pipeline.plots.integrity`.
"""

from pipeline.plots.style import save, use_style

__all__ = ["save", "use_style"]
