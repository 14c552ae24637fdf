"""Classifying a corpus: `pipeline predict` on files, folders of shards, all cores, or a Ray cluster.

options (the run's checked flags), formats (row chunks in and out of each file type), rows (texts, empty
texts, answers, --keep), shards (which files, .partial and resume), stream (one input into its outputs, in
order), parallel (worker processes), job (one run), ray_job (the same on Ray Data). Imports no torch, and ray
only when a run asks for it.
"""
