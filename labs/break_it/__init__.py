"""Notebook 00's "now you try": lesson 00's agent at a pace a learner can interrupt by hand."""
