"""Decision support on common random numbers: ``optimize`` (search + selection), ``discover``
(scenario discovery), and — from the calibration helper — ``calibrate``.

Kept import-free so each command loads only what it needs (Optuna, scikit-learn, EMA Workbench
are imported by the modules that use them).
"""
