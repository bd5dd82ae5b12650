"""Estimators in the scikit-learn style.

Parameters in ``__init__``, ``fit`` learns, fitted state ends in ``_``.
"""
