"""A simulated nRF91: the modem state machine, its store, and ways to reach it.

- `sim://NAME` in any pyserial `serial_for_url` call (after `import at`),
- `nrf91-sim NAME` / `python -m at.sim NAME`: the same modem on a real pty.

This package depends on nothing in `at` above `at.protocol` (and the leaf helper `at.files`).
"""
