"""Embedded demo datasets: seeded, small, realistic EEG written in the layouts the real datasets ship in.

`signals` holds the shared generators; `sleep_edf` and `bids_rest` each write one dataset folder.
"""
