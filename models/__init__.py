"""Estimators in the scikit-learn style: parameters in ``__init__``, ``fit`` learns, fitted state ends in ``_``."""
