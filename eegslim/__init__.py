"""eegslim: how small and fast can an EEG classifier get before it loses accuracy?

Layers import only downward:
atomic/metrics → io → preprocess → store → splits → models → train → prune → deploy → report.
"""

__version__ = "0.1.0"
