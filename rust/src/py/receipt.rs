//! Python surface of delivery receipts: `parse_receipt` (and the batch
//! `parse_receipts`), the frozen `Receipt` class whose getters convert one
//! field at a time on access, `receipt_id_keys`, `format_receipt` and the
//! `MESSAGE_STATES` table.

use std::borrow::Cow;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::error::CodecError;
use crate::py::errors::to_pyerr;
use crate::receipt::{self, MessageState, ReceiptFields, ReceiptTlvs};
use crate::status;

/// A delivery receipt: short_message text and receipt TLVs merged (TLVs
/// win). Built by `parse_receipt`; immutable.
#[pyclass(frozen, eq, name = "Receipt", module = "byosms._core")]
#[derive(PartialEq)]
pub struct PyReceipt {
    inner: receipt::Receipt,
}

impl From<receipt::Receipt> for PyReceipt {
    fn from(inner: receipt::Receipt) -> Self {
        PyReceipt { inner }
    }
}

#[pymethods]
impl PyReceipt {
    #[getter]
    fn message_id(&self) -> Cow<'_, str> {
        self.inner.message_id()
    }

    /// SMPP message_state number (1 ENROUTE .. 8 REJECTED; 0/9 from SMPP 5.0).
    #[getter]
    fn state(&self) -> u8 {
        self.inner.state.as_u8()
    }

    /// message_state name, e.g. "UNDELIVERABLE".
    #[getter]
    fn state_name(&self) -> &'static str {
        self.inner.state.name()
    }

    #[getter]
    fn stat(&self) -> Option<Cow<'_, str>> {
        self.inner.stat()
    }

    #[getter]
    fn is_final(&self) -> bool {
        self.inner.is_final()
    }

    #[getter]
    fn is_success(&self) -> bool {
        self.inner.is_success()
    }

    #[getter]
    fn sub(&self) -> Option<u32> {
        self.inner.sub
    }

    #[getter]
    fn dlvrd(&self) -> Option<u32> {
        self.inner.dlvrd
    }

    #[getter]
    fn submit_date(&self) -> Option<Cow<'_, str>> {
        self.inner.submit_date()
    }

    #[getter]
    fn done_date(&self) -> Option<Cow<'_, str>> {
        self.inner.done_date()
    }

    #[getter]
    fn err(&self) -> Option<Cow<'_, str>> {
        self.inner.err()
    }

    #[getter]
    fn error_code(&self) -> Option<u32> {
        self.inner.error_code
    }

    #[getter]
    fn network_type(&self) -> Option<u8> {
        self.inner.network_type
    }

    #[getter]
    fn text<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.inner.text().map(|t| PyBytes::new(py, t))
    }

    #[getter]
    fn extra<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items = self
            .inner
            .extra()
            .map(|(k, v)| PyTuple::new(py, [PyString::new(py, &k), PyString::new(py, &v)]))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }

    /// Keys under which this receipt's id may match a submit_sm_resp id,
    /// exact first (see `receipt_id_keys`).
    fn id_keys(&self) -> Vec<String> {
        self.inner.id_keys()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let r = &self.inner;
        Ok(format!(
            "Receipt(message_id={}, state={} {}, stat={}, err={}, error_code={}, is_final={})",
            py_repr(py, Some(&r.message_id()))?,
            r.state.as_u8(),
            r.state.name(),
            py_repr(py, r.stat().as_deref())?,
            py_repr(py, r.err().as_deref())?,
            r.error_code.map_or_else(|| "None".to_owned(), |c| c.to_string()),
            if r.is_final() { "True" } else { "False" },
        ))
    }
}

/// Python's own repr of an optional str, so odd characters read as in Python.
fn py_repr(py: Python<'_>, v: Option<&str>) -> PyResult<String> {
    match v {
        None => Ok("None".to_owned()),
        Some(s) => Ok(PyString::new(py, s).repr()?.to_str()?.to_owned()),
    }
}

/// receipted_message_id as given from Python: str is taken as is, bytes as
/// the raw C-Octet string.
fn id_arg(v: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<u8>>> {
    let Some(v) = v.filter(|v| !v.is_none()) else { return Ok(None) };
    if let Ok(b) = v.cast::<PyBytes>() {
        return Ok(Some(b.as_bytes().to_vec()));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(Some(s.to_str()?.as_bytes().to_vec()));
    }
    Err(PyTypeError::new_err("receipted_message_id must be str, bytes or None"))
}

/// message_state as an int or as the 1-octet TLV value.
fn state_arg(py: Python<'_>, v: Option<&Bound<'_, PyAny>>) -> PyResult<Option<u8>> {
    let Some(v) = v.filter(|v| !v.is_none()) else { return Ok(None) };
    if let Ok(b) = v.cast::<PyBytes>() {
        return match b.as_bytes() {
            [s] => Ok(Some(*s)),
            other => Err(to_pyerr(
                py,
                CodecError::new(
                    status::ESME_RINVPARLEN,
                    "message_state",
                    format!("message_state must be 1 octet, got {}", other.len()),
                ),
            )),
        };
    }
    if v.cast::<pyo3::types::PyInt>().is_ok() {
        // Huge ints are out of range like any other, not an OverflowError.
        return match v.extract::<i64>().ok().and_then(|n| u8::try_from(n).ok()) {
            Some(n) => Ok(Some(n)),
            None => Err(to_pyerr(
                py,
                CodecError::new(
                    status::ESME_RINVOPTPARAMVAL,
                    "message_state",
                    format!("message_state must be in 0..255, got {}", v.str()?.to_str()?),
                ),
            )),
        };
    }
    Err(PyTypeError::new_err("message_state must be int, bytes or None"))
}

fn nec_arg(v: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<u8>>> {
    let Some(v) = v.filter(|v| !v.is_none()) else { return Ok(None) };
    match v.cast::<PyBytes>() {
        Ok(b) => Ok(Some(b.as_bytes().to_vec())),
        Err(_) => Err(PyTypeError::new_err("network_error_code must be bytes or None")),
    }
}

fn parse_one(
    py: Python<'_>,
    short_message: &[u8],
    receipted_message_id: Option<&Bound<'_, PyAny>>,
    message_state: Option<&Bound<'_, PyAny>>,
    network_error_code: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyReceipt> {
    let id = id_arg(receipted_message_id)?;
    let state = state_arg(py, message_state)?;
    let nec = nec_arg(network_error_code)?;
    let tlvs = ReceiptTlvs {
        receipted_message_id: id.as_deref(),
        message_state: state,
        network_error_code: nec.as_deref(),
    };
    receipt::parse_receipt(short_message, &tlvs)
        .map(|inner| PyReceipt { inner })
        .map_err(|e| to_pyerr(py, e))
}

/// Parse a delivery receipt from a deliver_sm's short_message (or
/// message_payload) and its receipt TLVs. Raises SmppError when there is no
/// message id anywhere (command_status ESME_RX_P_APPN, field
/// "short_message") or a TLV has the wrong length.
#[pyfunction]
#[pyo3(signature = (short_message, *, receipted_message_id=None, message_state=None, network_error_code=None))]
fn parse_receipt(
    py: Python<'_>,
    short_message: &[u8],
    receipted_message_id: Option<&Bound<'_, PyAny>>,
    message_state: Option<&Bound<'_, PyAny>>,
    network_error_code: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyReceipt> {
    parse_one(py, short_message, receipted_message_id, message_state, network_error_code)
}

/// Batch form: each item is a short_message (bytes) or a tuple
/// (short_message, receipted_message_id, message_state, network_error_code).
/// Returns one Receipt or SmppError instance per item, in order, so one bad
/// receipt does not spoil a read buffer's worth.
#[pyfunction]
fn parse_receipts<'py>(py: Python<'py>, items: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for item in items.try_iter()? {
        let item = item?;
        let parsed = if let Ok(b) = item.cast::<PyBytes>() {
            parse_one(py, b.as_bytes(), None, None, None)
        } else if let Ok(t) = item.cast::<PyTuple>() {
            if t.len() != 4 {
                return Err(PyTypeError::new_err(
                    "parse_receipts items are bytes or (short_message, receipted_message_id, message_state, network_error_code)",
                ));
            }
            let sm = t.get_item(0)?;
            let sm = sm
                .cast::<PyBytes>()
                .map_err(|_| PyTypeError::new_err("short_message must be bytes"))?;
            let (a, b, c) = (t.get_item(1)?, t.get_item(2)?, t.get_item(3)?);
            parse_one(py, sm.as_bytes(), Some(&a), Some(&b), Some(&c))
        } else {
            return Err(PyTypeError::new_err("parse_receipts items must be bytes or 4-tuples"));
        };
        match parsed {
            Ok(r) => out.append(Bound::new(py, r)?)?,
            // Only SmppError becomes a list entry; TypeError stays an error
            // of the call (a programming mistake, not bad wire input).
            Err(e) if e.is_instance_of::<crate::py::errors::SmppError>(py) => out.append(e.into_value(py))?,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Keys under which a vendor message id may be matched: the id as sent,
/// then "#" + lowercase hex of its value read as hex and read as decimal.
#[pyfunction]
fn receipt_id_keys(id: &str) -> Vec<String> {
    receipt::id_keys(id)
}

/// Build the SMPP 3.4 appendix B receipt text (for the SMSC simulator).
/// `stat` is the text value ("DELIVRD") or a message_state number.
#[pyfunction]
#[pyo3(signature = (message_id, stat, err="000", submit_date="0000000000", done_date="0000000000", sub=1, dlvrd=1, text=&b""[..]))]
#[allow(clippy::too_many_arguments)]
fn format_receipt<'py>(
    py: Python<'py>,
    message_id: &str,
    stat: &Bound<'py, PyAny>,
    err: &str,
    submit_date: &str,
    done_date: &str,
    sub: u32,
    dlvrd: u32,
    text: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    let stat_owned;
    let stat: &str = if let Ok(s) = stat.cast::<PyString>() {
        stat_owned = s.to_str()?.to_owned();
        &stat_owned
    } else if stat.cast::<pyo3::types::PyInt>().is_ok() {
        let n: i64 = stat.extract()?;
        match u8::try_from(n).ok().and_then(MessageState::from_u8) {
            Some(s) => s.stat(),
            None => {
                return Err(to_pyerr(
                    py,
                    CodecError::new(status::ESME_RSYSERR, "stat", format!("unknown message_state {n}")),
                ))
            }
        }
    } else {
        return Err(PyTypeError::new_err("stat must be str or int"));
    };
    let fields = ReceiptFields { message_id, stat, err, submit_date, done_date, sub, dlvrd, text };
    let bytes = receipt::format_receipt(&fields).map_err(|e| to_pyerr(py, e))?;
    Ok(PyBytes::new(py, &bytes))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<PyReceipt>()?;
    m.add_function(wrap_pyfunction!(parse_receipt, m)?)?;
    m.add_function(wrap_pyfunction!(parse_receipts, m)?)?;
    m.add_function(wrap_pyfunction!(receipt_id_keys, m)?)?;
    m.add_function(wrap_pyfunction!(format_receipt, m)?)?;
    let states = PyDict::new(py);
    for (state, name) in MessageState::ALL {
        states.set_item(name, state.as_u8())?;
    }
    m.add("MESSAGE_STATES", states)?;
    Ok(())
}
