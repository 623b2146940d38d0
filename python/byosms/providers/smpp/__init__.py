"""SMPP 3.4 provider: a sans-I/O ESME session (`session`), binds on trio
(`bind`), and the integration engine (`supervisor.SmppIntegration`) with its
message types and address rules (`messages`), receipt correlation
(`correlation`) and inbound reassembly (`inbound`)."""
