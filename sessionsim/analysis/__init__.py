"""Analyses of runs: realism against published bands, sweeps, the benchmark."""
