"""Presentational Textual widgets: they receive model data and emit messages.

They import nothing from the data sources (tests/test_layering.py keeps it so).
"""
