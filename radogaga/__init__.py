"""RaDOGAGA reproduction book: the helper package behind the chapters.

Everything heavy lives here (data, models, objectives, training, diagnostics,
experiments, a results store, plotting); the chapters narrate and call it.
"""

__version__ = "0.1.0"
