"""lrtraj: reproduction pipeline for *Training trajectories, mini-batch losses and the
curious role of the learning rate* (Sandler, Zhmoginov, Vladymyrov, Miller, 2023).

One module per concept: ``data``, ``models``, ``train`` (the SGD loop), ``schedules``,
``averaging``, ``sidetrips``, ``evaluate``, ``checkpoint``, ``metrics``/``provenance``,
``quadratic`` and ``plots``.
"""

__version__ = "0.1.0"
