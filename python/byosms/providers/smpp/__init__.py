"""SMPP 3.4 provider: a sans-I/O ESME session (`session`) and binds on trio (`bind`)."""
