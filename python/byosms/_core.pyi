"""Type stubs for the compiled ``byosms._core`` extension (hand-written: the
abi3 module exposes no signatures). Keep in sync with rust/src/py/."""

__version__: str

class SmppError(ValueError):
    """Invalid SMPP input (wire bytes, field values, charset or segmentation
    requests). ``command_status`` is the status to answer the peer with
    (generic_nack or the matching *_resp); ``field`` names what was wrong."""

    command_status: int
    field: str

# --- PDU codec (rust/src/py/pdu.rs) ----------------------------------------

# --- end PDU codec ---



# --- charsets and segmentation (rust/src/py/text.rs) ------------------------

# --- end charsets and segmentation ---



# --- delivery receipts (rust/src/py/receipt.rs) -----------------------------

# --- end delivery receipts ---
