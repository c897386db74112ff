"""Shared machinery of the paper experiments in ``benchmarks/paper`` (Table 4, Figs. 5, 7, 8, 9).

* :mod:`.planners`: the planner ablations (no imagination, no sliding window, LLM switches) and helpers;
* :mod:`.budgets`: named training/evaluation budgets (``tiny`` CPU rehearsal, ``gpu9``, ``full``);
* :mod:`.runs`: variants x seeds, trained and evaluated resumably with one budget;
* :mod:`.world_eval`: per-video scores of a pipeline on world prompts of any :class:`~vdm.world.Difficulty`;
* :mod:`.report`: mean ± std over seeds, Markdown tables, PNG plots.

The experiment scripts put this folder on ``sys.path`` (they run as ``python benchmarks/paper/<script>.py``).
"""
