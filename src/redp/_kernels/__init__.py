"""Numba kernels: pure functions of arrays and integer seeds.

Kernels compute; they never validate user input, draw DP noise or account
privacy. The Python layer above them owns all of that.
"""
