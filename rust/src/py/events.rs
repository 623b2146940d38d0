//! Python surface of `status_frame`: a page of stored status events as the
//! websocket frame text, made without holding the GIL.

use pyo3::prelude::*;

use crate::events;

/// The frame text of a page of stored events and its last cursor, or None
/// when the page holds anything but plain status events. `heads`: JSON
/// `[[cursor, type, created], ...]`; `payloads`: their stored JSON objects,
/// comma-separated, in the same order.
#[pyfunction]
fn status_frame(py: Python<'_>, heads: &str, payloads: &str) -> Option<(String, i64)> {
    // Runs on a store reader thread: the event loop keeps the GIL meanwhile.
    py.detach(|| events::status_frame(heads, payloads))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(status_frame, m)?)?;
    Ok(())
}
