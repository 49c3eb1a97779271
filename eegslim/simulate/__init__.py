"""Embedded demo datasets: seeded, small, realistic EEG written in the layouts the real datasets ship in.

`signals` holds the shared generators; `sleep_edf`, `bids_rest` and `eeg_imagenet` (both .pth kinds) each
write one dataset folder.
"""
