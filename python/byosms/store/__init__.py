"""Durable state (issue 5, item 1). The pipeline programs against
`byosms.store.base.Store`; `open_sqlite_store` is the default backend."""

from byosms.store.base import (
    RECORDED,
    Conflict,
    NotFound,
    SchemaError,
    Store,
    StoreClosed,
    StoreError,
)
from byosms.store.crypto import MissingKeyError, SecretKeyError, WrongKeyError, generate_key
from byosms.store.sqlite import InvalidRecord, OptedOut, SqliteStore, open_sqlite_store

__all__ = [
    "RECORDED",
    "Conflict",
    "InvalidRecord",
    "MissingKeyError",
    "NotFound",
    "OptedOut",
    "SchemaError",
    "SecretKeyError",
    "SqliteStore",
    "Store",
    "StoreClosed",
    "StoreError",
    "WrongKeyError",
    "generate_key",
    "open_sqlite_store",
]
