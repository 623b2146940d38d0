//! PyO3 bindings. Each submodule wraps one concern of the pure core and
//! registers its classes and functions on `byosms._core`.

pub mod errors;
pub mod pdu;
pub mod text;
pub mod receipt;
pub mod events;
pub mod store_sets;
