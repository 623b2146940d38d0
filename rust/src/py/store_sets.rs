//! Python surface of the store's batch planners (`store_sets`), run without
//! the GIL: the store's writer thread shares it with the event loop.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::store_sets::{self, RollUp};

type PyRollUp<'py> = (
    Vec<(String, Option<i64>, Option<String>, String)>,
    Vec<(String, String, Bound<'py, PyBytes>, usize)>,
    Vec<String>,
    Vec<(String, usize, usize)>,
);

fn roll_up_py(py: Python<'_>, r: RollUp) -> PyRollUp<'_> {
    let units = r
        .units
        .into_iter()
        .map(|(bu, slices, blob, n)| (bu, slices, PyBytes::new(py, &blob), n))
        .collect();
    (r.updates, units, r.finals, r.events)
}

/// `(writes, taken, (updates, units, finals, events), rest)` for a batch of submit
/// results, or None when the Python path must take it (see store_sets.rs).
#[pyfunction]
#[allow(clippy::type_complexity)]
fn plan_submits<'py>(
    py: Python<'py>,
    heads: &str,
    outcomes: &[u8],
) -> Option<(String, Vec<(usize, i64)>, PyRollUp<'py>, Vec<usize>)> {
    let plan = py.detach(|| store_sets::plan_submits(heads, outcomes))?;
    Some((
        plan.writes,
        plan.taken,
        roll_up_py(py, plan.roll_up),
        plan.rest,
    ))
}

/// `(writes, taken, (updates, units, finals, events), rest)` for a batch of
/// receipts; `writes`: `(state, code, cause, vendor_code, ids)` per group.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn plan_receipts<'py>(
    py: Python<'py>,
    by_id: &str,
    by_vendor: &str,
    receipts: &[u8],
) -> Option<(
    store_sets::ReceiptWrites,
    Vec<(usize, i64)>,
    PyRollUp<'py>,
    Vec<usize>,
)> {
    let plan = py.detach(|| store_sets::plan_receipts(by_id, by_vendor, receipts))?;
    Some((
        plan.writes,
        plan.taken,
        roll_up_py(py, plan.roll_up),
        plan.rest,
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(plan_submits, m)?)?;
    m.add_function(wrap_pyfunction!(plan_receipts, m)?)?;
    Ok(())
}
