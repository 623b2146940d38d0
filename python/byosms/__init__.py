"""byosms: a bring-your-own-SMS gateway.

The hot path (SMPP PDU codec, charsets, segmentation, receipt parsing) lives in
the Rust extension ``byosms._core``; everything concurrent runs on trio.
"""

from byosms._core import __version__

__all__ = ["__version__"]
