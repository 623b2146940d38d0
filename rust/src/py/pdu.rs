//! Python surface of the PDU codec: `Tlv`, `Pdu`, `Framer`, `PduError`,
//! `decode`, the hot-path encoders and the CMD_* / ESME_* / TLV_* constants.
//!
//! A `Pdu` wraps the Rust struct; its getters convert one field at a time
//! when Python asks, so decoding a read buffer builds no dicts or strings
//! nobody looks at. C-Octet strings cross as `str` through Latin-1, which
//! maps every octet to one code point and back, so any bytes a peer sent
//! survive a decode/encode round trip; `bytes` are accepted for them too.

use pyo3::exceptions::{PyAttributeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::error::CodecError;
use crate::framer::{self, Frame, FrameError};
use crate::pdu::{
    self, Body, DestAddress, FieldKind, FieldRef, FieldValue, Pdu, SetError, UnsuccessSme,
};
use crate::py::errors::to_pyerr;
use crate::py::receipt::PyReceipt;
use crate::status;
use crate::tlv::{self, Tlv};

fn latin1_str<'py>(py: Python<'py>, b: &[u8]) -> Bound<'py, PyString> {
    match std::str::from_utf8(b) {
        Ok(s) if b.is_ascii() => PyString::new(py, s),
        _ => PyString::new(py, &b.iter().map(|&c| char::from(c)).collect::<String>()),
    }
}

/// str (Latin-1) or bytes to octets; a character above U+00FF is a bad
/// value for that field.
fn cstr_arg(v: &Bound<'_, PyAny>, field: &'static str) -> PyResult<Vec<u8>> {
    if let Ok(s) = v.cast::<PyString>() {
        return latin1_bytes(v.py(), s.to_str()?, field);
    }
    if let Ok(b) = v.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    Err(PyTypeError::new_err(format!(
        "{field} must be str or bytes, not {}",
        v.get_type().name()?
    )))
}

fn latin1_bytes(py: Python<'_>, s: &str, field: &'static str) -> PyResult<Vec<u8>> {
    if s.is_ascii() {
        return Ok(s.as_bytes().to_vec());
    }
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| {
            to_pyerr(
                py,
                CodecError::new(
                    pdu::field_status(field),
                    field,
                    format!("{field} has a character above U+00FF"),
                ),
            )
        })
}

fn bytes_arg(v: &Bound<'_, PyAny>, field: &str) -> PyResult<Vec<u8>> {
    if let Ok(b) = v.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    if let Ok(b) = v.cast::<pyo3::types::PyByteArray>() {
        return Ok(b.to_vec());
    }
    Err(PyTypeError::new_err(format!(
        "{field} must be bytes, not {}",
        v.get_type().name()?
    )))
}

/// Runs `f` over the octets of bytes without copying; bytearray, memoryview
/// and other buffers (trio's SSL streams hand out bytearray) are copied
/// first, so no Python code can resize them under us.
fn with_octets<R>(data: &Bound<'_, PyAny>, f: impl FnOnce(&[u8]) -> PyResult<R>) -> PyResult<R> {
    if let Ok(b) = data.cast::<PyBytes>() {
        return f(b.as_bytes());
    }
    let owned = match data.cast::<pyo3::types::PyByteArray>() {
        Ok(b) => b.to_vec(),
        Err(_) => pyo3::buffer::PyBuffer::<u8>::get(data)
            .map_err(|_| PyTypeError::new_err("expected bytes, bytearray or a buffer of octets"))?
            .to_vec(data.py())?,
    };
    f(&owned)
}

fn u8_arg(v: &Bound<'_, PyAny>, field: &'static str) -> PyResult<u8> {
    let i: i64 = v
        .extract()
        .map_err(|_| PyTypeError::new_err(format!("{field} must be int")))?;
    u8::try_from(i).map_err(|_| {
        to_pyerr(
            v.py(),
            CodecError::new(
                pdu::field_status(field),
                field,
                format!("{field} must be 0..=255, got {i}"),
            ),
        )
    })
}

fn tlvs_arg(v: &Bound<'_, PyAny>) -> PyResult<Vec<Tlv>> {
    if v.is_none() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for item in v.try_iter()? {
        let item = item?;
        let t = item
            .cast::<PyTlv>()
            .map_err(|_| PyTypeError::new_err("tlvs must be a list of Tlv"))?;
        out.push(t.get().inner.clone());
    }
    Ok(out)
}

fn dests_arg(v: &Bound<'_, PyAny>) -> PyResult<Vec<DestAddress>> {
    let mut out = Vec::new();
    for item in v.try_iter()? {
        let item = item?;
        if item.is_instance_of::<PyString>() || item.is_instance_of::<PyBytes>() {
            out.push(DestAddress::DistributionList(cstr_arg(&item, "dl_name")?));
        } else if let Ok(t) = item.cast::<PyTuple>() {
            if t.len() != 3 {
                return Err(PyTypeError::new_err(
                    "an SME destination is a (ton, npi, addr) tuple",
                ));
            }
            out.push(DestAddress::Sme {
                ton: u8_arg(&t.get_item(0)?, "dest_addr_ton")?,
                npi: u8_arg(&t.get_item(1)?, "dest_addr_npi")?,
                addr: cstr_arg(&t.get_item(2)?, "destination_addr")?,
            });
        } else {
            return Err(PyTypeError::new_err(
                "dest_addresses items are (ton, npi, addr) tuples or distribution list names",
            ));
        }
    }
    Ok(out)
}

fn unsuccess_arg(v: &Bound<'_, PyAny>) -> PyResult<Vec<UnsuccessSme>> {
    let mut out = Vec::new();
    for item in v.try_iter()? {
        let item = item?;
        let t = item
            .cast::<PyTuple>()
            .ok()
            .filter(|t| t.len() == 4)
            .ok_or_else(|| {
                PyTypeError::new_err(
                    "unsuccess_smes items are (ton, npi, addr, error_status_code) tuples",
                )
            })?;
        out.push(UnsuccessSme {
            ton: u8_arg(&t.get_item(0)?, "dest_addr_ton")?,
            npi: u8_arg(&t.get_item(1)?, "dest_addr_npi")?,
            addr: cstr_arg(&t.get_item(2)?, "destination_addr")?,
            error_status_code: t.get_item(3)?.extract()?,
        });
    }
    Ok(out)
}

fn field_to_py<'py>(py: Python<'py>, f: FieldRef<'_>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match f {
        FieldRef::Int(i) => i.into_pyobject(py)?.into_any(),
        FieldRef::Str(s) => latin1_str(py, s).into_any(),
        FieldRef::Bytes(b) => PyBytes::new(py, b).into_any(),
        FieldRef::Dests(d) => {
            let items = d
                .iter()
                .map(|d| match d {
                    DestAddress::Sme { ton, npi, addr } => Ok(PyTuple::new(
                        py,
                        [
                            ton.into_pyobject(py)?.into_any(),
                            npi.into_pyobject(py)?.into_any(),
                            latin1_str(py, addr).into_any(),
                        ],
                    )?
                    .into_any()),
                    DestAddress::DistributionList(n) => Ok(latin1_str(py, n).into_any()),
                })
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
        FieldRef::Unsuccess(u) => {
            let items = u
                .iter()
                .map(|u| {
                    PyTuple::new(
                        py,
                        [
                            u.ton.into_pyobject(py)?.into_any(),
                            u.npi.into_pyobject(py)?.into_any(),
                            latin1_str(py, &u.addr).into_any(),
                            u.error_status_code.into_pyobject(py)?.into_any(),
                        ],
                    )
                })
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
    })
}

/// An SMPP optional parameter: tag and raw value, kept byte for byte.
#[pyclass(frozen, eq, hash, module = "byosms._core", name = "Tlv")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyTlv {
    inner: Tlv,
}

#[pymethods]
impl PyTlv {
    #[new]
    fn new(tag: u16, value: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(PyTlv {
            inner: Tlv::new(tag, bytes_arg(value, "value")?),
        })
    }

    #[getter]
    fn tag(&self) -> u16 {
        self.inner.tag
    }

    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.value)
    }

    /// Spec name of a standard tag, None for vendor / unknown tags.
    #[getter]
    fn name(&self) -> Option<&'static str> {
        self.inner.name()
    }

    /// Big-endian unsigned value of an integer TLV, else None (see `Tlv::as_int`).
    fn as_int(&self) -> Option<u32> {
        self.inner.as_int()
    }

    /// The value up to its first NUL, as Latin-1 text.
    fn as_str<'py>(&self, py: Python<'py>) -> Bound<'py, PyString> {
        latin1_str(py, self.inner.as_cstr())
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let v = PyBytes::new(py, &self.inner.value).repr()?;
        Ok(format!("Tlv(0x{:04X}, {})", self.inner.tag, v.to_str()?))
    }
}

/// One SMPP PDU. Immutable; `replace()` makes a changed copy.
#[pyclass(frozen, eq, hash, module = "byosms._core", name = "Pdu")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyPdu {
    inner: Pdu,
}

fn resolve_command(command: &Bound<'_, PyAny>) -> PyResult<u32> {
    let id = if let Ok(s) = command.cast::<PyString>() {
        let name = s.to_str()?;
        pdu::command_id(name).ok_or_else(|| {
            to_pyerr(
                command.py(),
                CodecError::new(
                    status::ESME_RINVCMDID,
                    "command_id",
                    format!("unknown command {name:?}"),
                ),
            )
        })?
    } else {
        command.extract::<u32>().map_err(|_| {
            PyTypeError::new_err("command must be a command name (str) or command_id (int)")
        })?
    };
    if pdu::command_name(id).is_none() {
        return Err(to_pyerr(
            command.py(),
            CodecError::new(
                status::ESME_RINVCMDID,
                "command_id",
                format!("unknown command_id 0x{id:08X}"),
            ),
        ));
    }
    Ok(id)
}

impl PyPdu {
    pub fn from_pdu(inner: Pdu) -> Self {
        PyPdu { inner }
    }

    fn name(&self) -> &'static str {
        self.inner.command_name().unwrap_or("unknown")
    }

    fn field<'py>(&self, py: Python<'py>, name: &'static str) -> PyResult<Bound<'py, PyAny>> {
        match self.inner.body.get(name) {
            Some(f) => field_to_py(py, f),
            None => Err(PyAttributeError::new_err(format!(
                "{} has no field {name:?}",
                self.name()
            ))),
        }
    }

    /// Applies keyword fields to `self.inner` (not yet checked).
    fn apply(&mut self, fields: &Bound<'_, PyDict>, allow_header: bool) -> PyResult<()> {
        let py = fields.py();
        for (k, v) in fields.iter() {
            let key = k.cast::<PyString>()?;
            let name = key.to_str()?;
            if allow_header && name == "sequence_number" {
                self.inner.sequence_number = v.extract()?;
                continue;
            }
            if allow_header && name == "command_status" {
                self.inner.command_status = v.extract()?;
                continue;
            }
            if name == "tlvs" {
                let tlvs = tlvs_arg(&v)?;
                match self.inner.body.tlvs_mut() {
                    Some(t) => *t = tlvs,
                    None => {
                        return Err(PyTypeError::new_err(format!(
                            "{} takes no tlvs",
                            self.name()
                        )))
                    }
                }
                continue;
            }
            let Some(&(fname, kind)) = self.inner.body.fields().iter().find(|(n, _)| *n == name)
            else {
                return Err(PyTypeError::new_err(format!(
                    "{} has no field {name:?}",
                    self.name()
                )));
            };
            let value = match kind {
                FieldKind::Int => FieldValue::Int(
                    v.extract::<i64>()
                        .map_err(|_| PyTypeError::new_err(format!("{fname} must be int")))?,
                ),
                FieldKind::CStr { .. } | FieldKind::TailCStr { .. } | FieldKind::Time => {
                    FieldValue::Bytes(cstr_arg(&v, fname)?)
                }
                FieldKind::ShortMessage => FieldValue::Bytes(bytes_arg(&v, fname)?),
                FieldKind::Dests => FieldValue::Dests(dests_arg(&v)?),
                FieldKind::Unsuccess => FieldValue::Unsuccess(unsuccess_arg(&v)?),
            };
            match self.inner.body.set(fname, value) {
                Ok(()) => {}
                Err(SetError::NoField) => {
                    return Err(PyTypeError::new_err(format!(
                        "{} has no field {name:?}",
                        self.name()
                    )))
                }
                Err(SetError::Type(want)) => {
                    return Err(PyTypeError::new_err(format!("{fname} must be {want}")))
                }
                Err(SetError::Value(e)) => return Err(to_pyerr(py, e)),
            }
        }
        self.inner.check().map_err(|e| to_pyerr(py, e))
    }

    fn items<'py>(&self, py: Python<'py>) -> PyResult<Vec<(&'static str, Bound<'py, PyAny>)>> {
        let mut out = Vec::new();
        for (name, _) in self.inner.body.fields() {
            if let Some(f) = self.inner.body.get(name) {
                out.push((*name, field_to_py(py, f)?));
            }
        }
        if self.inner.body.takes_tlvs() {
            out.push(("tlvs", self.tlvs(py)?.into_any()));
        }
        Ok(out)
    }
}

#[pymethods]
impl PyPdu {
    #[new]
    #[pyo3(signature = (command, sequence_number = 0, command_status = 0, **fields))]
    fn new(
        command: &Bound<'_, PyAny>,
        sequence_number: u32,
        command_status: u32,
        fields: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let id = resolve_command(command)?;
        let inner = Pdu::new(id, sequence_number).map_err(|e| to_pyerr(command.py(), e))?;
        let mut p = PyPdu {
            inner: Pdu {
                command_status,
                ..inner
            },
        };
        match fields {
            Some(f) => p.apply(f, false)?,
            None => p.inner.check().map_err(|e| to_pyerr(command.py(), e))?,
        }
        Ok(p)
    }

    #[getter]
    fn command_id(&self) -> u32 {
        self.inner.command_id
    }

    #[getter]
    fn command_name(&self) -> &'static str {
        self.name()
    }

    #[getter]
    fn command_status(&self) -> u32 {
        self.inner.command_status
    }

    #[getter]
    fn sequence_number(&self) -> u32 {
        self.inner.sequence_number
    }

    #[getter]
    fn is_response(&self) -> bool {
        self.inner.is_response()
    }

    /// Names of this command's body fields, in wire order (plus "tlvs" when
    /// it takes optional parameters).
    #[getter]
    fn field_names<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let mut names: Vec<&str> = self.inner.body.fields().iter().map(|(n, _)| *n).collect();
        if self.inner.body.takes_tlvs() {
            names.push("tlvs");
        }
        PyTuple::new(py, names)
    }

    #[getter]
    fn tlvs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(
            py,
            self.inner
                .body
                .tlvs()
                .iter()
                .map(|t| PyTlv { inner: t.clone() }),
        )
    }

    /// The first TLV with this tag, or None.
    fn tlv(&self, tag: u16) -> Option<PyTlv> {
        self.inner
            .body
            .tlvs()
            .iter()
            .find(|t| t.tag == tag)
            .map(|t| PyTlv { inner: t.clone() })
    }

    /// The delivery receipt of a deliver_sm / data_sm (esm_class type 0x04
    /// or a receipted_message_id TLV), parsed from short_message (or
    /// message_payload) and the receipt TLVs in one call; None otherwise.
    /// Raises SmppError for a malformed receipt, as `parse_receipt` does.
    fn receipt(&self, py: Python<'_>) -> PyResult<Option<PyReceipt>> {
        crate::receipt::receipt_of(&self.inner)
            .transpose()
            .map(|r| r.map(PyReceipt::from))
            .map_err(|e| to_pyerr(py, e))
    }

    fn encode<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let mut out = Vec::with_capacity(self.inner.encoded_len());
        pdu::encode_into(&self.inner, &mut out).map_err(|e| to_pyerr(py, e))?;
        Ok(PyBytes::new(py, &out))
    }

    /// Keyword arguments that rebuild this PDU: `Pdu(**p.to_dict()) == p`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("command", self.name())?;
        d.set_item("sequence_number", self.inner.sequence_number)?;
        d.set_item("command_status", self.inner.command_status)?;
        for (k, v) in self.items(py)? {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    /// A copy with some fields (and/or sequence_number, command_status) changed.
    #[pyo3(signature = (**fields))]
    fn replace(&self, fields: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let mut p = self.clone();
        if let Some(f) = fields {
            p.apply(f, true)?;
        }
        Ok(p)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let mut s = format!(
            "Pdu('{}', sequence_number={}, command_status={}",
            self.name(),
            self.inner.sequence_number,
            self.inner.command_status
        );
        for (k, v) in self.items(py)? {
            s.push_str(&format!(", {k}={}", v.repr()?.to_str()?));
        }
        s.push(')');
        Ok(s)
    }

    #[getter]
    fn system_id<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "system_id")
    }
    #[getter]
    fn password<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "password")
    }
    #[getter]
    fn system_type<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "system_type")
    }
    #[getter]
    fn interface_version<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "interface_version")
    }
    #[getter]
    fn addr_ton<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "addr_ton")
    }
    #[getter]
    fn addr_npi<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "addr_npi")
    }
    #[getter]
    fn address_range<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "address_range")
    }
    #[getter]
    fn service_type<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "service_type")
    }
    #[getter]
    fn source_addr_ton<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "source_addr_ton")
    }
    #[getter]
    fn source_addr_npi<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "source_addr_npi")
    }
    #[getter]
    fn source_addr<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "source_addr")
    }
    #[getter]
    fn dest_addr_ton<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "dest_addr_ton")
    }
    #[getter]
    fn dest_addr_npi<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "dest_addr_npi")
    }
    #[getter]
    fn destination_addr<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "destination_addr")
    }
    #[getter]
    fn esm_class<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "esm_class")
    }
    #[getter]
    fn protocol_id<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "protocol_id")
    }
    #[getter]
    fn priority_flag<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "priority_flag")
    }
    #[getter]
    fn schedule_delivery_time<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "schedule_delivery_time")
    }
    #[getter]
    fn validity_period<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "validity_period")
    }
    #[getter]
    fn registered_delivery<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "registered_delivery")
    }
    #[getter]
    fn replace_if_present_flag<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "replace_if_present_flag")
    }
    #[getter]
    fn data_coding<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "data_coding")
    }
    #[getter]
    fn sm_default_msg_id<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "sm_default_msg_id")
    }
    #[getter]
    fn short_message<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        // The hot getter: straight to the field rather than by name.
        match self.inner.body.short_message() {
            Some(b) => Ok(PyBytes::new(py, b).into_any()),
            None => self.field(py, "short_message"),
        }
    }
    #[getter]
    fn message_id<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "message_id")
    }
    #[getter]
    fn dest_addresses<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "dest_addresses")
    }
    #[getter]
    fn unsuccess_smes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "unsuccess_smes")
    }
    #[getter]
    fn final_date<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "final_date")
    }
    #[getter]
    fn message_state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "message_state")
    }
    #[getter]
    fn error_code<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "error_code")
    }
    #[getter]
    fn esme_addr_ton<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "esme_addr_ton")
    }
    #[getter]
    fn esme_addr_npi<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "esme_addr_npi")
    }
    #[getter]
    fn esme_addr<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.field(py, "esme_addr")
    }
}

/// A frame that did not decode, returned by `Framer.feed` in place of a Pdu.
/// Not an exception: the session answers it (generic_nack or the *_resp with
/// `command_status`) and, unless `fatal`, carries on.
#[pyclass(frozen, module = "byosms._core", name = "PduError")]
pub struct PyPduError {
    #[pyo3(get)]
    command_id: Option<u32>,
    #[pyo3(get)]
    sequence_number: Option<u32>,
    #[pyo3(get)]
    command_status: u32,
    #[pyo3(get)]
    field: &'static str,
    #[pyo3(get)]
    message: String,
    #[pyo3(get)]
    fatal: bool,
}

impl From<FrameError> for PyPduError {
    fn from(e: FrameError) -> Self {
        PyPduError {
            command_id: e.command_id,
            sequence_number: e.sequence_number,
            command_status: e.error.status,
            field: e.error.field,
            message: e.error.message,
            fatal: e.fatal,
        }
    }
}

fn opt_hex(v: Option<u32>) -> String {
    v.map_or_else(|| "None".to_string(), |v| format!("0x{v:08X}"))
}

#[pymethods]
impl PyPduError {
    /// Name of `command_id` when it is a known command.
    #[getter]
    fn command_name(&self) -> Option<&'static str> {
        self.command_id.and_then(pdu::command_name)
    }

    fn __repr__(&self) -> String {
        format!(
            "PduError(command_id={}, sequence_number={}, command_status={}, field='{}', fatal={}, message={:?})",
            opt_hex(self.command_id),
            self.sequence_number.map_or_else(|| "None".to_string(), |v| v.to_string()),
            status::name(self.command_status).unwrap_or("?"),
            self.field,
            if self.fatal { "True" } else { "False" },
            self.message
        )
    }
}

fn frames_to_list<'py>(py: Python<'py>, frames: Vec<Frame>) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for f in frames {
        match f {
            Frame::Pdu(p) => list.append(Bound::new(py, PyPdu { inner: p })?)?,
            Frame::Error(e) => list.append(Bound::new(py, PyPduError::from(e))?)?,
        }
    }
    Ok(list)
}

/// Sans-I/O stream framer: feed socket reads, get every complete PDU back.
#[pyclass(module = "byosms._core", name = "Framer")]
pub struct PyFramer {
    inner: framer::Framer,
}

#[pymethods]
impl PyFramer {
    #[new]
    #[pyo3(signature = (max_command_length = framer::DEFAULT_MAX_COMMAND_LENGTH))]
    fn new(max_command_length: u32) -> Self {
        PyFramer {
            inner: framer::Framer::new(max_command_length),
        }
    }

    /// Decodes every complete PDU now buffered, in order. Raises SmppError
    /// once a fatal PduError has been returned.
    fn feed<'py>(
        &mut self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut frames = Vec::new();
        with_octets(data, |d| {
            self.inner
                .feed_all(d, &mut frames)
                .map_err(|e| to_pyerr(py, e))
        })?;
        frames_to_list(py, frames)
    }

    #[getter]
    fn buffered<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.inner.buffered())
    }

    #[getter]
    fn max_command_length(&self) -> u32 {
        self.inner.max_command_length()
    }

    /// True once a fatal error was seen; the session must close.
    #[getter]
    fn failed(&self) -> bool {
        self.inner.failure().is_some()
    }
}

/// Decodes exactly one complete PDU.
#[pyfunction]
fn decode(py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<PyPdu> {
    with_octets(data, |d| {
        pdu::decode(d)
            .map(|inner| PyPdu { inner })
            .map_err(|e| to_pyerr(py, e))
    })
}

fn encode_to_bytes<'py>(py: Python<'py>, p: &Pdu) -> PyResult<Bound<'py, PyBytes>> {
    let mut out = Vec::with_capacity(p.encoded_len());
    pdu::encode_into(p, &mut out).map_err(|e| to_pyerr(py, e))?;
    Ok(PyBytes::new(py, &out))
}

#[allow(clippy::too_many_arguments)]
fn encode_sm<'py>(
    py: Python<'py>,
    command_id: u32,
    sequence_number: u32,
    source_addr: &str,
    destination_addr: &str,
    short_message: &[u8],
    data_coding: u8,
    esm_class: u8,
    registered_delivery: u8,
    source_addr_ton: u8,
    source_addr_npi: u8,
    dest_addr_ton: u8,
    dest_addr_npi: u8,
    service_type: &str,
    protocol_id: u8,
    priority_flag: u8,
    validity_period: &str,
    schedule_delivery_time: &str,
    tlvs: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let sm = pdu::Sm {
        service_type: latin1_bytes(py, service_type, "service_type")?.into(),
        source_addr_ton,
        source_addr_npi,
        source_addr: latin1_bytes(py, source_addr, "source_addr")?.into(),
        dest_addr_ton,
        dest_addr_npi,
        destination_addr: latin1_bytes(py, destination_addr, "destination_addr")?.into(),
        esm_class,
        protocol_id,
        priority_flag,
        schedule_delivery_time: latin1_bytes(py, schedule_delivery_time, "schedule_delivery_time")?.into(),
        validity_period: latin1_bytes(py, validity_period, "validity_period")?.into(),
        registered_delivery,
        replace_if_present_flag: 0,
        data_coding,
        sm_default_msg_id: 0,
        short_message: short_message.into(),
        tlvs: match tlvs {
            Some(t) => tlvs_arg(t)?,
            None => Vec::new(),
        },
    };
    let p = Pdu {
        command_id,
        command_status: 0,
        sequence_number,
        body: Body::Sm(Box::new(sm)),
    };
    encode_to_bytes(py, &p)
}

/// submit_sm bytes in one call, without building a Pdu.
#[pyfunction]
#[pyo3(signature = (sequence_number, source_addr, destination_addr, short_message, *, data_coding = 0,
    esm_class = 0, registered_delivery = 1, source_addr_ton = 0, source_addr_npi = 0, dest_addr_ton = 1,
    dest_addr_npi = 1, service_type = "", protocol_id = 0, priority_flag = 0, validity_period = "",
    schedule_delivery_time = "", tlvs = None))]
#[allow(clippy::too_many_arguments)]
fn encode_submit_sm<'py>(
    py: Python<'py>,
    sequence_number: u32,
    source_addr: &str,
    destination_addr: &str,
    short_message: &[u8],
    data_coding: u8,
    esm_class: u8,
    registered_delivery: u8,
    source_addr_ton: u8,
    source_addr_npi: u8,
    dest_addr_ton: u8,
    dest_addr_npi: u8,
    service_type: &str,
    protocol_id: u8,
    priority_flag: u8,
    validity_period: &str,
    schedule_delivery_time: &str,
    tlvs: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyBytes>> {
    encode_sm(
        py,
        pdu::SUBMIT_SM,
        sequence_number,
        source_addr,
        destination_addr,
        short_message,
        data_coding,
        esm_class,
        registered_delivery,
        source_addr_ton,
        source_addr_npi,
        dest_addr_ton,
        dest_addr_npi,
        service_type,
        protocol_id,
        priority_flag,
        validity_period,
        schedule_delivery_time,
        tlvs,
    )
}

/// deliver_sm bytes in one call, without building a Pdu.
#[pyfunction]
#[pyo3(signature = (sequence_number, source_addr, destination_addr, short_message, *, data_coding = 0,
    esm_class = 0, registered_delivery = 0, source_addr_ton = 1, source_addr_npi = 1, dest_addr_ton = 0,
    dest_addr_npi = 0, service_type = "", protocol_id = 0, priority_flag = 0, validity_period = "",
    schedule_delivery_time = "", tlvs = None))]
#[allow(clippy::too_many_arguments)]
fn encode_deliver_sm<'py>(
    py: Python<'py>,
    sequence_number: u32,
    source_addr: &str,
    destination_addr: &str,
    short_message: &[u8],
    data_coding: u8,
    esm_class: u8,
    registered_delivery: u8,
    source_addr_ton: u8,
    source_addr_npi: u8,
    dest_addr_ton: u8,
    dest_addr_npi: u8,
    service_type: &str,
    protocol_id: u8,
    priority_flag: u8,
    validity_period: &str,
    schedule_delivery_time: &str,
    tlvs: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyBytes>> {
    encode_sm(
        py,
        pdu::DELIVER_SM,
        sequence_number,
        source_addr,
        destination_addr,
        short_message,
        data_coding,
        esm_class,
        registered_delivery,
        source_addr_ton,
        source_addr_npi,
        dest_addr_ton,
        dest_addr_npi,
        service_type,
        protocol_id,
        priority_flag,
        validity_period,
        schedule_delivery_time,
        tlvs,
    )
}

fn message_id_resp<'py>(
    py: Python<'py>,
    command_id: u32,
    sequence_number: u32,
    message_id: &str,
    command_status: u32,
) -> PyResult<Bound<'py, PyBytes>> {
    let body = pdu::MessageIdResp {
        message_id: latin1_bytes(py, message_id, "message_id")?.into(),
        tlvs: Vec::new(),
    };
    encode_to_bytes(
        py,
        &Pdu {
            command_id,
            command_status,
            sequence_number,
            body: Body::MessageIdResp(Box::new(body)),
        },
    )
}

/// submit_sm_resp bytes (no body when command_status != 0 and message_id is empty, spec 4.4.2).
#[pyfunction]
#[pyo3(signature = (sequence_number, message_id, command_status = 0))]
fn encode_submit_sm_resp<'py>(
    py: Python<'py>,
    sequence_number: u32,
    message_id: &str,
    command_status: u32,
) -> PyResult<Bound<'py, PyBytes>> {
    message_id_resp(
        py,
        pdu::SUBMIT_SM_RESP,
        sequence_number,
        message_id,
        command_status,
    )
}

/// deliver_sm_resp bytes (message_id unused: a single NUL).
#[pyfunction]
#[pyo3(signature = (sequence_number, command_status = 0))]
fn encode_deliver_sm_resp<'py>(
    py: Python<'py>,
    sequence_number: u32,
    command_status: u32,
) -> PyResult<Bound<'py, PyBytes>> {
    message_id_resp(
        py,
        pdu::DELIVER_SM_RESP,
        sequence_number,
        "",
        command_status,
    )
}

fn header_only<'py>(
    py: Python<'py>,
    command_id: u32,
    status: u32,
    seq: u32,
) -> Bound<'py, PyBytes> {
    let mut b = [0u8; pdu::HEADER_LEN];
    b[..4].copy_from_slice(&(pdu::HEADER_LEN as u32).to_be_bytes());
    b[4..8].copy_from_slice(&command_id.to_be_bytes());
    b[8..12].copy_from_slice(&status.to_be_bytes());
    b[12..].copy_from_slice(&seq.to_be_bytes());
    PyBytes::new(py, &b)
}

#[pyfunction]
fn encode_enquire_link(py: Python<'_>, sequence_number: u32) -> Bound<'_, PyBytes> {
    header_only(py, pdu::ENQUIRE_LINK, 0, sequence_number)
}

#[pyfunction]
fn encode_enquire_link_resp(py: Python<'_>, sequence_number: u32) -> Bound<'_, PyBytes> {
    header_only(py, pdu::ENQUIRE_LINK_RESP, 0, sequence_number)
}

#[pyfunction]
fn encode_generic_nack(
    py: Python<'_>,
    sequence_number: u32,
    command_status: u32,
) -> Bound<'_, PyBytes> {
    header_only(py, pdu::GENERIC_NACK, command_status, sequence_number)
}

/// Concatenated encodings of several PDUs, in one call.
#[pyfunction]
fn encode_many<'py>(py: Python<'py>, pdus: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let mut out = Vec::new();
    for item in pdus.try_iter()? {
        let item = item?;
        let p = item
            .cast::<PyPdu>()
            .map_err(|_| PyTypeError::new_err("encode_many takes Pdu objects"))?;
        pdu::encode_into(&p.get().inner, &mut out).map_err(|e| to_pyerr(py, e))?;
    }
    Ok(PyBytes::new(py, &out))
}

#[pyfunction]
fn status_name(command_status: u32) -> Option<&'static str> {
    status::name(command_status)
}

#[pyfunction]
fn status_description(command_status: u32) -> Option<&'static str> {
    status::description(command_status)
}

#[pyfunction]
fn command_name(command_id: u32) -> Option<&'static str> {
    pdu::command_name(command_id)
}

#[pyfunction]
fn tlv_name(tag: u16) -> Option<&'static str> {
    tlv::name(tag)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyTlv>()?;
    m.add_class::<PyPdu>()?;
    m.add_class::<PyPduError>()?;
    m.add_class::<PyFramer>()?;
    m.add_function(wrap_pyfunction!(decode, m)?)?;
    m.add_function(wrap_pyfunction!(encode_submit_sm, m)?)?;
    m.add_function(wrap_pyfunction!(encode_deliver_sm, m)?)?;
    m.add_function(wrap_pyfunction!(encode_submit_sm_resp, m)?)?;
    m.add_function(wrap_pyfunction!(encode_deliver_sm_resp, m)?)?;
    m.add_function(wrap_pyfunction!(encode_enquire_link, m)?)?;
    m.add_function(wrap_pyfunction!(encode_enquire_link_resp, m)?)?;
    m.add_function(wrap_pyfunction!(encode_generic_nack, m)?)?;
    m.add_function(wrap_pyfunction!(encode_many, m)?)?;
    m.add_function(wrap_pyfunction!(status_name, m)?)?;
    m.add_function(wrap_pyfunction!(status_description, m)?)?;
    m.add_function(wrap_pyfunction!(command_name, m)?)?;
    m.add_function(wrap_pyfunction!(tlv_name, m)?)?;
    for (id, name) in pdu::COMMANDS {
        m.add(format!("CMD_{}", name.to_ascii_uppercase()), *id)?;
    }
    for (value, name, _) in status::ALL {
        m.add(*name, *value)?;
    }
    for spec in tlv::ALL {
        m.add(format!("TLV_{}", spec.name.to_ascii_uppercase()), spec.tag)?;
    }
    m.add(
        "DEFAULT_MAX_COMMAND_LENGTH",
        framer::DEFAULT_MAX_COMMAND_LENGTH,
    )?;
    Ok(())
}
