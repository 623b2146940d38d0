//! Python exceptions. `SmppError` carries `command_status` (the status to
//! answer the peer with) and `field` as attributes, so Python code can build
//! a generic_nack or *_resp without parsing the message.

use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::error::CodecError;

create_exception!(
    byosms._core,
    SmppError,
    PyValueError,
    "Invalid SMPP input. Attributes: command_status (int), field (str)."
);

pub fn to_pyerr(py: Python<'_>, e: CodecError) -> PyErr {
    let err = SmppError::new_err(e.to_string());
    let value = err.value(py);
    // Exception instances carry a __dict__, so plain attributes work under abi3.
    let _ = value.setattr("command_status", e.status);
    let _ = value.setattr("field", e.field);
    err
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("SmppError", m.py().get_type::<SmppError>())?;
    Ok(())
}
