//! byosms core: the sans-I/O hot path of the gateway.
//!
//! Bytes and strings in, bytes and values out. No sockets, threads or clocks:
//! all I/O, time and concurrency live in Python on trio. This file only
//! declares modules and registers the Python surface; each concern has its
//! own module.

pub mod error;
pub mod status;
pub mod bytes;
pub mod tlv;
pub mod pdu;
pub mod framer;
pub mod gsm;
pub mod charsets;
pub mod segment;
pub mod reassembly;
pub mod receipt;
pub mod events;
pub mod store_sets;

#[cfg(feature = "python")]
mod py;

#[cfg(feature = "python")]
use pyo3::prelude::*;

#[cfg(feature = "python")]
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    py::errors::register(m)?;
    py::pdu::register(m)?;
    py::text::register(m)?;
    py::receipt::register(m)?;
    py::events::register(m)?;
    py::store_sets::register(m)?;
    Ok(())
}
