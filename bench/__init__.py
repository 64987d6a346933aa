"""Benchmarks for wnlib: ``python -m bench`` runs them all side by side and prints one table.

Every comparison runs in one process with its cases interleaved (A, B, A, B, ...) and reports medians, so
the ratios hold on a noisy, shared machine even when absolute times drift. One module per benchmark:

==========  ==========================================================================================
``epoch``     one SGD epoch on the paper's shape: ``wnlib.train`` vs the usual PyTorch code vs the GEMMs alone
``spectral``  predictor-Hessian spectral norm: Lanczos (wnlib) vs PyHessian-style power iteration
``hvp``       one Hessian-vector product vs one gradient
``tracking``  ``wnlib.train`` with the default tracked quantities vs untracked
``book``      execution time of every ``book/*.ipynb`` in the quick profile
==========  ==========================================================================================
"""
