"""Multilingual text classification pipeline: prepare, train, evaluate, export."""
