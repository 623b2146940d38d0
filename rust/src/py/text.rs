//! Python surface of charsets, segmentation and reassembly. Results are
//! Rust-backed frozen objects whose getters convert on access, so a message
//! costs one crossing to segment and one per inbound part to reassemble.

use std::sync::LazyLock;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

use crate::charsets::{self, Chain, Charset};
use crate::error::CodecError;
use crate::gsm;
use crate::py::errors::to_pyerr;
use crate::reassembly::{self, Added, Incomplete, Key, Udh};
use crate::segment::{self as seg, Concat, Options, Preview, Segmented};
use crate::status;

static DEFAULT_CHAIN: LazyLock<Chain> = LazyLock::new(Chain::default);

fn err(status: u32, field: &'static str, msg: String) -> CodecError {
    CodecError::new(status, field, msg)
}

fn dcs_u8(dcs: i64) -> Result<u8, CodecError> {
    u8::try_from(dcs).map_err(|_| {
        err(
            status::ESME_RX_P_APPN,
            "data_coding",
            format!("data_coding {dcs} is not 0..255"),
        )
    })
}

/// Formats an optional value the way Python's repr would.
fn py_opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_else(|| "None".into())
}

fn bytes_list<'py>(py: Python<'py>, parts: &[Vec<u8>]) -> PyResult<Bound<'py, PyList>> {
    PyList::new(py, parts.iter().map(|p| PyBytes::new(py, p)))
}

/// Ordered (data_coding, charset) list of S8.
#[pyclass(frozen, module = "byosms._core", name = "Chain")]
pub struct PyChain {
    inner: Chain,
}

impl PyChain {
    fn get<'a>(chain: &'a Option<Bound<'_, PyChain>>) -> &'a Chain {
        match chain {
            Some(c) => &c.get().inner,
            None => &DEFAULT_CHAIN,
        }
    }
}

#[pymethods]
impl PyChain {
    #[new]
    #[pyo3(signature = (entries = None))]
    fn new(py: Python<'_>, entries: Option<Vec<(i64, String)>>) -> PyResult<Self> {
        let inner = match entries {
            None => Chain::default(),
            Some(e) => {
                let mut v = Vec::with_capacity(e.len());
                for (dcs, name) in &e {
                    let d = u8::try_from(*dcs).map_err(|_| {
                        to_pyerr(
                            py,
                            err(
                                status::ESME_RSUBMITFAIL,
                                "data_coding",
                                format!("data_coding {dcs} is not 0..255"),
                            ),
                        )
                    })?;
                    v.push((d, Charset::from_name(name).map_err(|e| to_pyerr(py, e))?));
                }
                Chain::from_entries(v).map_err(|e| to_pyerr(py, e))?
            }
        };
        Ok(PyChain { inner })
    }

    /// [(dcs, canonical charset name), ...]
    #[getter]
    fn entries(&self) -> Vec<(u8, &'static str)> {
        self.inner
            .entries()
            .iter()
            .map(|(d, c)| (*d, c.name()))
            .collect()
    }

    /// (dcs, charset name) of the first entry that represents the text.
    fn select(&self, py: Python<'_>, text: &str) -> PyResult<(u8, &'static str)> {
        let (dcs, cs) = self.inner.select(text).map_err(|e| to_pyerr(py, e))?;
        Ok((dcs, cs.name()))
    }

    /// Decodes one short_message by its data_coding.
    #[pyo3(signature = (data, dcs, *, udhi = false, packed = false))]
    fn decode(
        &self,
        py: Python<'_>,
        data: &[u8],
        dcs: i64,
        udhi: bool,
        packed: bool,
    ) -> PyResult<String> {
        let dcs = dcs_u8(dcs).map_err(|e| to_pyerr(py, e))?;
        reassembly::decode_message(&self.inner, &[data], dcs, udhi, packed)
            .map_err(|e| to_pyerr(py, e))
    }

    /// Decodes a reassembled message from its parts in order.
    #[pyo3(signature = (parts, dcs, *, udhi = false, packed = false))]
    fn decode_parts(
        &self,
        py: Python<'_>,
        parts: Vec<Vec<u8>>,
        dcs: i64,
        udhi: bool,
        packed: bool,
    ) -> PyResult<String> {
        let dcs = dcs_u8(dcs).map_err(|e| to_pyerr(py, e))?;
        let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
        reassembly::decode_message(&self.inner, &refs, dcs, udhi, packed)
            .map_err(|e| to_pyerr(py, e))
    }

    fn __len__(&self) -> usize {
        self.inner.entries().len()
    }

    fn __repr__(&self) -> String {
        let items: Vec<String> = self
            .inner
            .entries()
            .iter()
            .map(|(d, c)| format!("({d}, {:?})", c.name()))
            .collect();
        format!("Chain([{}])", items.join(", "))
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyChain>()
            .map(|o| o.get().inner == self.inner)
            .unwrap_or(false)
    }
}

/// A text split into short messages.
#[pyclass(frozen, module = "byosms._core", name = "Segmented")]
pub struct PySegmented {
    inner: Segmented,
}

#[pymethods]
impl PySegmented {
    #[getter]
    fn dcs(&self) -> u8 {
        self.inner.dcs
    }
    #[getter]
    fn charset(&self) -> &'static str {
        self.inner.charset.name()
    }
    #[getter]
    fn encoding(&self) -> &'static str {
        self.inner.encoding.name()
    }
    #[getter]
    fn count(&self) -> usize {
        self.inner.parts.len()
    }
    #[getter]
    fn parts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        bytes_list(py, &self.inner.parts)
    }
    #[getter]
    fn udhi(&self) -> bool {
        self.inner.udhi
    }
    #[getter]
    fn sar(&self) -> Option<Vec<(u16, u8, u8)>> {
        self.inner.sar.clone()
    }
    #[getter]
    fn units(&self) -> usize {
        self.inner.units
    }
    #[getter]
    fn remaining(&self) -> usize {
        self.inner.remaining
    }
    #[getter]
    fn national_single(&self) -> Option<u8> {
        self.inner.national_single
    }
    #[getter]
    fn national_locking(&self) -> Option<u8> {
        self.inner.national_locking
    }
    fn __len__(&self) -> usize {
        self.inner.parts.len()
    }
    fn __repr__(&self) -> String {
        format!(
            "Segmented(dcs={}, charset={:?}, encoding={:?}, count={}, units={}, remaining={}, udhi={})",
            self.inner.dcs,
            self.inner.charset.name(),
            self.inner.encoding.name(),
            self.inner.parts.len(),
            self.inner.units,
            self.inner.remaining,
            if self.inner.udhi { "True" } else { "False" }
        )
    }
}

/// What a text would cost, for the API's preview.
#[pyclass(frozen, module = "byosms._core", name = "Preview")]
pub struct PyPreview {
    inner: Preview,
}

#[pymethods]
impl PyPreview {
    #[getter]
    fn encoding(&self) -> &'static str {
        self.inner.encoding.name()
    }
    #[getter]
    fn dcs(&self) -> u8 {
        self.inner.dcs
    }
    #[getter]
    fn charset(&self) -> &'static str {
        self.inner.charset.name()
    }
    #[getter]
    fn segments(&self) -> usize {
        self.inner.segments
    }
    #[getter]
    fn units(&self) -> usize {
        self.inner.units
    }
    #[getter]
    fn remaining(&self) -> usize {
        self.inner.remaining
    }
    #[getter]
    fn forced_by(&self) -> Vec<String> {
        self.inner.forced_by.iter().map(|c| c.to_string()).collect()
    }
    #[getter]
    fn national_single(&self) -> Option<u8> {
        self.inner.national_single
    }
    #[getter]
    fn national_locking(&self) -> Option<u8> {
        self.inner.national_locking
    }
    fn __repr__(&self) -> String {
        format!(
            "Preview(encoding={:?}, dcs={}, charset={:?}, segments={}, units={}, remaining={}, forced_by={:?})",
            self.inner.encoding.name(),
            self.inner.dcs,
            self.inner.charset.name(),
            self.inner.segments,
            self.inner.units,
            self.inner.remaining,
            self.inner.forced_by.iter().map(|c| c.to_string()).collect::<Vec<_>>()
        )
    }
}

/// A parsed User Data Header plus the payload that follows it.
#[pyclass(frozen, module = "byosms._core", name = "Udh")]
pub struct PyUdh {
    inner: Udh,
    payload: Vec<u8>,
}

#[pymethods]
impl PyUdh {
    #[getter]
    fn concat(&self) -> Option<(u16, u8, u8)> {
        self.inner.concat
    }
    #[getter]
    fn reference_bits(&self) -> Option<u8> {
        self.inner.reference_bits
    }
    #[getter]
    fn national_single(&self) -> Option<u8> {
        self.inner.national_single
    }
    #[getter]
    fn national_locking(&self) -> Option<u8> {
        self.inner.national_locking
    }
    #[getter]
    fn ports(&self) -> Option<(u16, u16)> {
        self.inner.ports
    }
    #[getter]
    fn elements<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items: PyResult<Vec<Bound<'py, PyTuple>>> = self
            .inner
            .elements
            .iter()
            .map(|(iei, data)| {
                PyTuple::new(
                    py,
                    [
                        iei.into_pyobject(py)?.into_any(),
                        PyBytes::new(py, data).into_any(),
                    ],
                )
            })
            .collect();
        PyList::new(py, items?)
    }
    #[getter]
    fn payload<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.payload)
    }
    #[getter]
    fn header_length(&self) -> usize {
        self.inner.header_length
    }
    #[getter]
    fn fill_bits(&self) -> u8 {
        self.inner.fill_bits()
    }
    fn __repr__(&self) -> String {
        format!(
            "Udh(header_length={}, concat={}, reference_bits={}, national_single={}, national_locking={}, ports={})",
            self.inner.header_length,
            py_opt(self.inner.concat.map(|(r, t, s)| format!("({r}, {t}, {s})"))),
            py_opt(self.inner.reference_bits),
            py_opt(self.inner.national_single),
            py_opt(self.inner.national_locking),
            py_opt(self.inner.ports.map(|(d, o)| format!("({d}, {o})")))
        )
    }
}

/// A concatenated message given up on (timed out or evicted).
#[pyclass(frozen, module = "byosms._core", name = "Expired")]
pub struct PyExpired {
    inner: Incomplete,
}

#[pymethods]
impl PyExpired {
    #[getter]
    fn source(&self) -> &str {
        &self.inner.key.source
    }
    #[getter]
    fn destination(&self) -> &str {
        &self.inner.key.destination
    }
    #[getter]
    fn reference(&self) -> u16 {
        self.inner.key.reference
    }
    #[getter]
    fn total(&self) -> u8 {
        self.inner.key.total
    }
    #[getter]
    fn first_ms(&self) -> i64 {
        self.inner.first_ms
    }
    /// "timeout" or "evicted".
    #[getter]
    fn reason(&self) -> &'static str {
        self.inner.reason.name()
    }
    #[getter]
    fn missing(&self) -> Vec<u32> {
        // Vec<u8> would become bytes in Python.
        self.inner.missing().into_iter().map(u32::from).collect()
    }
    #[getter]
    fn received(&self) -> Vec<u32> {
        self.inner.received().into_iter().map(u32::from).collect()
    }
    /// Payloads by seq - 1, None where missing.
    #[getter]
    fn parts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(
            py,
            self.inner
                .parts
                .iter()
                .map(|p| p.as_ref().map(|b| PyBytes::new(py, b))),
        )
    }
    fn __repr__(&self) -> String {
        format!(
            "Expired(source={:?}, destination={:?}, reference={}, total={}, reason={:?}, missing={:?})",
            self.inner.key.source,
            self.inner.key.destination,
            self.inner.key.reference,
            self.inner.key.total,
            self.inner.reason.name(),
            self.inner.missing()
        )
    }
}

/// Sans-I/O collector of concatenated parts (UDH or SAR).
#[pyclass(module = "byosms._core", name = "Reassembler")]
pub struct PyReassembler {
    inner: reassembly::Reassembler,
}

fn added<'py>(py: Python<'py>, a: Added) -> PyResult<Bound<'py, PyTuple>> {
    let (name, parts): (&str, Option<Bound<'py, PyList>>) = match a {
        Added::Complete(p) => ("complete", Some(bytes_list(py, &p)?)),
        Added::Pending => ("pending", None),
        Added::Duplicate => ("duplicate", None),
        Added::Invalid(_) => ("invalid", None),
    };
    PyTuple::new(
        py,
        [
            name.into_pyobject(py)?.into_any(),
            parts.into_pyobject(py)?.into_any(),
        ],
    )
}

#[pymethods]
impl PyReassembler {
    #[new]
    #[pyo3(signature = (max_pending = reassembly::DEFAULT_MAX_PENDING))]
    fn new(max_pending: usize) -> PyResult<Self> {
        if max_pending == 0 {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "max_pending must be at least 1",
            ));
        }
        Ok(PyReassembler {
            inner: reassembly::Reassembler::new(max_pending),
        })
    }

    /// Adds one part; returns (status, parts in order when complete).
    #[allow(clippy::too_many_arguments)]
    fn add<'py>(
        &mut self,
        py: Python<'py>,
        source: String,
        destination: String,
        reference: i64,
        total: i64,
        seq: i64,
        payload: &[u8],
        now_ms: i64,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let (Ok(reference), Ok(total), Ok(seq)) = (
            u16::try_from(reference),
            u8::try_from(total),
            u8::try_from(seq),
        ) else {
            return added(py, Added::Invalid("reference, total or seq out of range"));
        };
        let a = self.inner.add(
            Key {
                source,
                destination,
                reference,
                total,
            },
            seq,
            payload,
            now_ms,
        );
        added(py, a)
    }

    /// Parses the UDH of a short_message (esm_class UDHI set) and adds it as
    /// one part; the stored part is the whole short_message, to be decoded
    /// with `Chain.decode_parts(parts, dcs, udhi=True)`. A message without a
    /// concatenation IE is complete on its own.
    fn add_short_message<'py>(
        &mut self,
        py: Python<'py>,
        source: String,
        destination: String,
        short_message: &[u8],
        now_ms: i64,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let udh = reassembly::parse_udh(short_message).map_err(|e| to_pyerr(py, e))?;
        let a = match udh.concat {
            None => Added::Complete(vec![short_message.to_vec()]),
            Some((reference, total, seq)) => self.inner.add(
                Key {
                    source,
                    destination,
                    reference,
                    total,
                },
                seq,
                short_message,
                now_ms,
            ),
        };
        added(py, a)
    }

    /// Incomplete groups whose first part is `timeout_ms` old or older, and
    /// any evicted since the last call.
    fn expire(&mut self, now_ms: i64, timeout_ms: i64) -> Vec<PyExpired> {
        self.inner
            .expire(now_ms, timeout_ms)
            .into_iter()
            .map(|inner| PyExpired { inner })
            .collect()
    }

    #[getter]
    fn pending(&self) -> usize {
        self.inner.pending()
    }

    #[getter]
    fn max_pending(&self) -> usize {
        self.inner.max_pending()
    }

    fn __len__(&self) -> usize {
        self.inner.pending()
    }
}

fn options(
    py: Python<'_>,
    concat: &str,
    reference: i64,
    packed: bool,
    national_language: Option<i64>,
) -> PyResult<Options> {
    let concat = Concat::from_name(concat).map_err(|e| to_pyerr(py, e))?;
    let reference = u16::try_from(reference).map_err(|_| {
        to_pyerr(
            py,
            err(
                status::ESME_RSUBMITFAIL,
                "reference",
                format!("reference {reference} is not 0..65535"),
            ),
        )
    })?;
    let national_language = match national_language {
        None => None,
        Some(l) => Some(u8::try_from(l).map_err(|_| {
            to_pyerr(
                py,
                err(
                    status::ESME_RSUBMITFAIL,
                    "national_language",
                    format!("national language {l} is not 0..255"),
                ),
            )
        })?),
    };
    Ok(Options {
        concat,
        reference,
        packed,
        national_language,
    })
}

fn charset(py: Python<'_>, name: &str) -> PyResult<Charset> {
    Charset::from_name(name).map_err(|e| to_pyerr(py, e))
}

#[pyfunction]
fn charset_names() -> Vec<&'static str> {
    charsets::charset_names()
}

#[pyfunction]
fn encode_text<'py>(py: Python<'py>, text: &str, charset: &str) -> PyResult<Bound<'py, PyBytes>> {
    let cs = self::charset(py, charset)?;
    let b = cs.encode(text).map_err(|e| to_pyerr(py, e))?;
    Ok(PyBytes::new(py, &b))
}

#[pyfunction]
fn decode_text(py: Python<'_>, data: &[u8], charset: &str) -> PyResult<String> {
    let cs = self::charset(py, charset)?;
    cs.decode(data).map_err(|e| to_pyerr(py, e))
}

#[pyfunction]
fn can_encode(py: Python<'_>, text: &str, charset: &str) -> PyResult<bool> {
    Ok(self::charset(py, charset)?.can_encode(text))
}

fn check_fill(py: Python<'_>, fill_bits: u8) -> PyResult<()> {
    if fill_bits > 6 {
        return Err(to_pyerr(
            py,
            err(
                status::ESME_RX_P_APPN,
                "short_message",
                format!("fill_bits {fill_bits} is not 0..6"),
            ),
        ));
    }
    Ok(())
}

#[pyfunction]
#[pyo3(signature = (septets, fill_bits = 0))]
fn gsm_pack<'py>(py: Python<'py>, septets: &[u8], fill_bits: u8) -> PyResult<Bound<'py, PyBytes>> {
    check_fill(py, fill_bits)?;
    if let Some(at) = septets.iter().position(|s| *s > gsm::SEPTET_MAX) {
        return Err(to_pyerr(
            py,
            err(
                status::ESME_RX_P_APPN,
                "short_message",
                format!("octet 0x{:02X} at {at} is not a septet", septets[at]),
            ),
        ));
    }
    Ok(PyBytes::new(py, &gsm::pack(septets, fill_bits)))
}

#[pyfunction]
#[pyo3(signature = (data, count = None, fill_bits = 0))]
fn gsm_unpack<'py>(
    py: Python<'py>,
    data: &[u8],
    count: Option<usize>,
    fill_bits: u8,
) -> PyResult<Bound<'py, PyBytes>> {
    check_fill(py, fill_bits)?;
    let s = gsm::unpack(data, count, fill_bits).map_err(|e| to_pyerr(py, e))?;
    Ok(PyBytes::new(py, &s))
}

#[pyfunction]
#[pyo3(signature = (text, chain = None, *, concat = "udh8", reference = 0, packed = false, national_language = None))]
fn segment(
    py: Python<'_>,
    text: &str,
    chain: Option<Bound<'_, PyChain>>,
    concat: &str,
    reference: i64,
    packed: bool,
    national_language: Option<i64>,
) -> PyResult<PySegmented> {
    let opts = options(py, concat, reference, packed, national_language)?;
    let inner = seg::segment(text, PyChain::get(&chain), &opts).map_err(|e| to_pyerr(py, e))?;
    Ok(PySegmented { inner })
}

/// Batch form of `segment`: one crossing for many texts. `references` gives
/// each text its reference (default 0 for all).
#[pyfunction]
#[pyo3(signature = (texts, chain = None, *, concat = "udh8", references = None, packed = false, national_language = None))]
fn segment_many(
    py: Python<'_>,
    texts: Vec<String>,
    chain: Option<Bound<'_, PyChain>>,
    concat: &str,
    references: Option<Vec<i64>>,
    packed: bool,
    national_language: Option<i64>,
) -> PyResult<Vec<PySegmented>> {
    if let Some(r) = &references {
        if r.len() != texts.len() {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "references must have one entry per text",
            ));
        }
    }
    let chain = PyChain::get(&chain);
    let mut out = Vec::with_capacity(texts.len());
    for (i, text) in texts.iter().enumerate() {
        let reference = references.as_ref().map(|r| r[i]).unwrap_or(0);
        let opts = options(py, concat, reference, packed, national_language)?;
        out.push(PySegmented {
            inner: seg::segment(text, chain, &opts).map_err(|e| to_pyerr(py, e))?,
        });
    }
    Ok(out)
}

#[pyfunction]
#[pyo3(signature = (text, chain = None, *, concat = "udh8", national_language = None))]
fn preview(
    py: Python<'_>,
    text: &str,
    chain: Option<Bound<'_, PyChain>>,
    concat: &str,
    national_language: Option<i64>,
) -> PyResult<PyPreview> {
    let opts = options(py, concat, 0, false, national_language)?;
    let inner = seg::preview(text, PyChain::get(&chain), &opts).map_err(|e| to_pyerr(py, e))?;
    Ok(PyPreview { inner })
}

#[pyfunction]
fn parse_udh(py: Python<'_>, short_message: &[u8]) -> PyResult<PyUdh> {
    let inner = reassembly::parse_udh(short_message).map_err(|e| to_pyerr(py, e))?;
    let payload = short_message
        .get(inner.header_length..)
        .unwrap_or_default()
        .to_vec();
    Ok(PyUdh { inner, payload })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyChain>()?;
    m.add_class::<PySegmented>()?;
    m.add_class::<PyPreview>()?;
    m.add_class::<PyUdh>()?;
    m.add_class::<PyExpired>()?;
    m.add_class::<PyReassembler>()?;
    m.add_function(wrap_pyfunction!(charset_names, m)?)?;
    m.add_function(wrap_pyfunction!(encode_text, m)?)?;
    m.add_function(wrap_pyfunction!(decode_text, m)?)?;
    m.add_function(wrap_pyfunction!(can_encode, m)?)?;
    m.add_function(wrap_pyfunction!(gsm_pack, m)?)?;
    m.add_function(wrap_pyfunction!(gsm_unpack, m)?)?;
    m.add_function(wrap_pyfunction!(segment, m)?)?;
    m.add_function(wrap_pyfunction!(segment_many, m)?)?;
    m.add_function(wrap_pyfunction!(preview, m)?)?;
    m.add_function(wrap_pyfunction!(parse_udh, m)?)?;
    m.add(
        "NATIONAL_LANGUAGES",
        gsm::SUPPORTED_LANGUAGES
            .iter()
            .map(|l| u32::from(*l))
            .collect::<Vec<_>>(),
    )?;
    Ok(())
}
