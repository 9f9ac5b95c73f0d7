"""Installed as `at.hex`: the at_client manifest (manifest.json), its README and the build overlay.

No code lives here; at/firmware.py reads manifest.json through importlib.resources.
"""
