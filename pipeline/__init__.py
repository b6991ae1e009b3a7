"""六比六看 讲绩效 — analysis and reporting pipeline for party-building performance assessments.

Modules are nouns named after what they hold (see STYLE.md): ``config``, ``synth``, ``load``,
``clean``, ``schemas``, ``score``, ``compare``, ``trend``, ``sensitivity``, ``integrity``,
``plots``, ``report``, ``cli``.
"""

__version__ = "0.1.0"
