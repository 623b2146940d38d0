"""Every schema of byosms in one place: msgspec Structs for configuration,
operational events and (later) the websocket API. Decoded once at the edge."""
