"""Simulation studies that measure the error rates sparsestat documents.

Each ``validate_<name>.py`` module measures one estimator's promise over a grid of
designs and writes its table to ``results/<name>.md``; :mod:`validation.run`
runs them and assembles ``docs/validation.md``. Run everything with ``make validate``.
"""
