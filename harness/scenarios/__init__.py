"""The built-in scenarios, one module each. Each declares SCENARIO (core.scenario.Scenario:
its figures, sizes per profile, report sections) next to the code that measures it, and is
registered in the `queuebench.scenarios` entry points (pyproject.toml), the way a plug-in's
scenario is. What the harness calls, and what a scenario may use: common.py.
"""
