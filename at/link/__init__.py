"""Serial links to an nRF91: one per framing (at_host, the AT shell), and detection of which fits."""
