"""Datasets: the VC-RewardBench reader (:mod:`vcbench`) and ``erm synth``'s generators, perturbations and
writers (:mod:`synth`, :mod:`formats`)."""
