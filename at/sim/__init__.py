"""A simulated nRF91: the modem state machine, its store, and ways to reach it.

- `modem.Modem.execute(text) -> lines`: the modem itself, behind any front end;
- `at_host.AtHostFrontEnd`: Nordic's at_host framing, strict (spec section 1); the one
  place that picks a front end is `device.make_front_end`;
- `link.Link`: timing and faults between the host and a front end;
- `sim://NAME` in any pyserial `serial_for_url` call (after `import at`),
- `nrf91-sim NAME` / `python -m at.sim NAME`: the same modem on a real pty.

This package depends on nothing in `at` above `at.protocol` (and the leaf helper `at.files`).
"""
