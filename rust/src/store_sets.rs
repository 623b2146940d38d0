//! The middle of the store's batch ops for one-segment messages
//! (python/byosms/store/sqlite_sets.py, `record_submits` and
//! `record_receipts` with `details=False`): the segment rows one lookup
//! returned, checked against the batch's submit results or receipts, turned
//! into the JSON arguments of the next statements, with the `status` events'
//! payloads written. On the store's writer thread — the gateway's slowest
//! stage — this was ~4 µs of Python per event; here it is text in, text out,
//! and the binding runs it without the GIL.
//!
//! It says exactly what the Python set path says (tests/test_store_sets.py
//! runs both against the per-item ops): items it cannot take go back as
//! `rest`, for the per-item op, in order.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::events::{push_int, push_json_str, push_opt_int, push_opt_str, Text};

/// A segment with its message's facts, as `_SQL_SEGMENTS_LEAN` gives it:
/// [id, message_id, idx, state, vendor_message_id, generic_code,
/// generic_cause, vendor_code, business_unit, client_ref, segment_count,
/// message state].
type RawRow<'a> = (
    i64,
    Text<'a>,
    i64,
    Text<'a>,
    Option<Text<'a>>,
    Option<i64>,
    Option<Text<'a>>,
    Option<i64>,
    Text<'a>,
    Option<Text<'a>>,
    i64,
    Text<'a>,
);

struct Row<'a> {
    id: i64,
    message_id: Cow<'a, str>,
    idx: i64,
    state: Cow<'a, str>,
    vendor_id: Option<Cow<'a, str>>,
    code: Option<i64>,
    cause: Option<Cow<'a, str>>,
    vendor_code: Option<i64>,
    bu: Cow<'a, str>,
    client_ref: Option<Cow<'a, str>>,
    count: i64,
    mstate: Cow<'a, str>,
}

impl<'a> From<RawRow<'a>> for Row<'a> {
    fn from(r: RawRow<'a>) -> Self {
        Row {
            id: r.0,
            message_id: r.1 .0,
            idx: r.2,
            state: r.3 .0,
            vendor_id: r.4.map(|t| t.0),
            code: r.5,
            cause: r.6.map(|t| t.0),
            vendor_code: r.7,
            bu: r.8 .0,
            client_ref: r.9.map(|t| t.0),
            count: r.10,
            mstate: r.11 .0,
        }
    }
}

fn rows(heads: &str) -> Option<Vec<Row<'_>>> {
    let raw: Vec<RawRow<'_>> = serde_json::from_str(heads).ok()?;
    Some(raw.into_iter().map(Row::from).collect())
}

/// One segment written by the batch, as its `status` event tells it.
struct Changed<'r, 'a> {
    row: &'r Row<'a>,
    state: &'r str,
    vendor_id: Option<&'r str>,
    code: Option<i64>,
    cause: Option<&'r str>,
    vendor_code: Option<i64>,
}

/// What the Python side executes: the roll-up's message updates (one per
/// (state, code, cause)), the status events (one insert per business unit:
/// payload slices and the payloads), the messages that became final.
#[derive(Default)]
pub struct RollUp {
    pub updates: Vec<(String, Option<i64>, Option<String>, String)>,
    pub units: Vec<(String, String, Vec<u8>, usize)>,
    pub finals: Vec<String>,
    /// Per segment written, in order: the message's state after it, and its
    /// event's place (unit, position in the unit's insert): the answer of a
    /// caller that wants one (cursors follow from each insert's last id).
    pub events: Vec<(String, usize, usize)>,
}

/// A JSON array of strings.
fn json_strs<'s>(items: impl Iterator<Item = &'s str>) -> String {
    let mut out = String::from("[");
    for (k, s) in items.enumerate() {
        if k > 0 {
            out.push(',');
        }
        push_json_str(&mut out, s);
    }
    out.push(']');
    out
}

/// `_roll_up` of sqlite_sets.py: message states and status events.
fn roll_up(changed: &[Changed<'_, '_>]) -> RollUp {
    let mut up = RollUp::default();
    let mut update_ids: Vec<Vec<&str>> = Vec::new();
    let mut update_at: HashMap<(&str, Option<i64>, Option<&str>), usize> = HashMap::new();
    let mut units: Vec<(&str, String, String, usize)> = Vec::new(); // bu, slices, payloads, count
    let mut unit_at: HashMap<&str, usize> = HashMap::new();
    for c in changed {
        let r = c.row;
        let rolled = match c.state {
            "delivered" => "delivered",
            "failed" => "failed",
            "submitted" => "en_route",
            _ => "queued",
        };
        let fin = rolled == "delivered" || rolled == "failed";
        let mstate: &str = &r.mstate;
        let moved = rolled != mstate && mstate != "failed";
        let new = if moved || rolled == "failed" {
            rolled
        } else {
            mstate
        };
        if moved {
            let key = if fin {
                (rolled, c.code, c.cause)
            } else {
                (rolled, None, None)
            };
            let at = *update_at.entry(key).or_insert_with(|| {
                update_ids.push(Vec::new());
                up.updates.push((
                    key.0.to_owned(),
                    key.1,
                    key.2.map(str::to_owned),
                    String::new(),
                ));
                update_ids.len() - 1
            });
            update_ids[at].push(&r.message_id);
        }
        if fin {
            up.finals.push(r.message_id.to_string());
        }
        let at = *unit_at.entry(&r.bu).or_insert_with(|| {
            units.push((&r.bu, String::from("["), String::new(), 0));
            units.len() - 1
        });
        let (_, slices, payloads, count) = &mut units[at];
        up.events.push((new.to_owned(), at, *count));
        *count += 1;
        let start = payloads.len();
        payload(payloads, c, new, moved);
        if *count > 1 {
            slices.push(',');
        }
        slices.push('[');
        push_int(slices, start as i64 + 1); // substr() is 1-based
        slices.push(',');
        push_int(slices, (payloads.len() - start) as i64);
        slices.push(']');
    }
    for (u, ids) in up.updates.iter_mut().zip(&update_ids) {
        u.3 = json_strs(ids.iter().copied());
    }
    up.units = units
        .into_iter()
        .map(|(bu, mut slices, payloads, count)| {
            slices.push(']');
            (bu.to_owned(), slices, payloads.into_bytes(), count)
        })
        .collect();
    up
}

/// A `StatusPayload` (byosms.schemas.records) as msgspec encodes it: fields
/// in declaration order, None fields left out.
fn payload(out: &mut String, c: &Changed<'_, '_>, message_state: &str, moved: bool) {
    let r = c.row;
    out.push_str("{\"message_id\":");
    push_json_str(out, &r.message_id);
    out.push_str(",\"segment_index\":");
    push_int(out, r.idx);
    out.push_str(",\"segment_count\":1,\"segment_state\":");
    push_json_str(out, c.state);
    out.push_str(",\"message_state\":");
    push_json_str(out, message_state);
    out.push_str(if moved {
        ",\"message_state_changed\":true"
    } else {
        ",\"message_state_changed\":false"
    });
    push_opt_str(out, "client_ref", r.client_ref.as_deref());
    push_opt_int(out, "generic_code", c.code);
    push_opt_str(out, "generic_cause", c.cause);
    push_opt_int(out, "vendor_code", c.vendor_code);
    push_opt_str(out, "vendor_message_id", c.vendor_id);
    out.push('}');
}

/// The plan of a batch: the segment writes (the submit update's JSON, or the
/// receipt updates per (state, code, cause, vendor code)), the roll-up, the
/// positions taken here and those left to the per-item op.
pub struct Plan<W> {
    pub writes: W,
    /// The batch positions the plan writes, and their segments' ids, in order.
    pub taken: Vec<(usize, i64)>,
    pub roll_up: RollUp,
    pub rest: Vec<usize>,
}

/// A JSON string escape for NUL: SQLite's JSON functions end a string there
/// (the per-item ops bind such strings instead).
fn has_nul(s: &[u8]) -> bool {
    s.windows(6).any(|w| w == b"\\u0000")
}

/// A plan is refused (`None`) when its roll-up's text holds a NUL.
fn checked<W>(plan: Plan<W>) -> Option<Plan<W>> {
    let r = &plan.roll_up;
    if r.units.iter().any(|u| has_nul(&u.2)) || r.updates.iter().any(|u| has_nul(u.3.as_bytes())) {
        return None;
    }
    Some(plan)
}

/// `record_submits`: `heads` the lean rows of the batch's segments;
/// `outcomes` JSON `[[segment_id, vendor_message_id or null], ...]` (null
/// for an error: those go to the per-item op). Writes: the JSON
/// `[[segment_id, vendor_message_id], ...]` of `_SQL_SUBMITTED`.
pub fn plan_submits(heads: &str, outcomes: &[u8]) -> Option<Plan<String>> {
    let rows = rows(heads)?;
    let outcomes: Vec<(i64, Option<Text<'_>>)> = serde_json::from_slice(outcomes).ok()?;
    let mut by_id: HashMap<i64, &Row<'_>> = rows.iter().map(|r| (r.id, r)).collect();
    let mut changed = Vec::new();
    let mut taken = Vec::new();
    let mut rest = Vec::new();
    let mut writes = String::from("[");
    for (i, (sid, vid)) in outcomes.iter().enumerate() {
        // remove: a segment named twice goes to the per-item op the second time.
        let row = by_id.remove(sid);
        let vid = vid.as_ref().map(|v| &*v.0).filter(|v| !v.is_empty());
        let (Some(r), Some(v)) = (row, vid) else {
            rest.push(i);
            continue;
        };
        if r.state != "in_flight" || r.count != 1 {
            rest.push(i);
            continue;
        }
        if !changed.is_empty() {
            writes.push(',');
        }
        writes.push('[');
        push_int(&mut writes, *sid);
        writes.push(',');
        push_json_str(&mut writes, v);
        writes.push(']');
        taken.push((i, *sid));
        changed.push(Changed {
            row: r,
            state: "submitted",
            vendor_id: Some(v),
            code: r.code,
            cause: r.cause.as_deref(),
            vendor_code: r.vendor_code,
        });
    }
    writes.push(']');
    if has_nul(writes.as_bytes()) {
        return None;
    }
    checked(Plan {
        taken,
        roll_up: roll_up(&changed),
        writes,
        rest,
    })
}

/// A receipt as `plan_receipts` reads it: [segment_id or null, whether it
/// names vendor ids, state, generic_code, generic_cause, vendor_code].
type RawReceipt<'a> = (
    Option<i64>,
    bool,
    Text<'a>,
    Option<i64>,
    Option<Text<'a>>,
    Option<i64>,
);

/// A receipt's outcome: state, generic code, generic cause, vendor code.
type Outcome<'a> = (&'a str, Option<i64>, Option<&'a str>, Option<i64>);

/// Receipt updates per (state, code, cause, vendor code): the segment ids.
pub type ReceiptWrites = Vec<(String, Option<i64>, Option<String>, Option<i64>, String)>;

/// `record_receipts`: `by_id` the lean rows of the segments the receipts
/// name; `by_vendor` `[[receipt position, row], ...]` for the receipts
/// without a segment id, matched by their first vendor id.
pub fn plan_receipts(by_id: &str, by_vendor: &str, receipts: &[u8]) -> Option<Plan<ReceiptWrites>> {
    let rows = rows(by_id)?;
    let vendor_raw: Vec<(usize, RawRow<'_>)> = serde_json::from_str(by_vendor).ok()?;
    let vendor_rows: Vec<(usize, Row<'_>)> = vendor_raw
        .into_iter()
        .map(|(k, r)| (k, Row::from(r)))
        .collect();
    let receipts: Vec<RawReceipt<'_>> = serde_json::from_slice(receipts).ok()?;
    let id_rows: HashMap<i64, &Row<'_>> = rows.iter().map(|r| (r.id, r)).collect();
    let mut found: HashMap<usize, Option<&Row<'_>>> = HashMap::new();
    for (i, rc) in receipts.iter().enumerate() {
        if let Some(sid) = rc.0 {
            found.insert(i, id_rows.get(&sid).copied());
        }
    }
    for (k, r) in &vendor_rows {
        // Two segments with one vendor id (an SMSC reusing ids): the per-item
        // op picks among them.
        let seen = found.contains_key(k);
        found.insert(*k, if seen { None } else { Some(r) });
    }
    let mut changed = Vec::new();
    let mut taken = Vec::new();
    let mut rest = Vec::new();
    let mut seen: std::collections::HashSet<i64> = std::collections::HashSet::new();
    let mut unknown = false;
    // Segment ids per outcome (state, code, cause, vendor code), first seen first.
    let mut groups: Vec<(Outcome<'_>, Vec<i64>)> = Vec::new();
    let mut group_at: HashMap<Outcome<'_>, usize> = HashMap::new();
    for (i, rc) in receipts.iter().enumerate() {
        let r = found.get(&i).copied().flatten();
        let take = match r {
            Some(r) => {
                !unknown
                    && r.state != "delivered"
                    && r.state != "failed"
                    && r.count == 1
                    && !seen.contains(&r.id)
            }
            None => false,
        };
        if !take {
            rest.push(i);
            match r {
                // The per-item op may still find its segment by another key:
                // the receipts after it wait, so each segment takes its
                // receipts in the order they came.
                None if rc.0.is_none() && rc.1 => unknown = true,
                Some(r) => {
                    seen.insert(r.id);
                }
                None => {}
            }
            continue;
        }
        let r = r.expect("taken rows exist");
        seen.insert(r.id);
        let state: &str = &rc.2 .0;
        let cause = rc.4.as_ref().map(|c| &*c.0);
        let key = (state, rc.3, cause, rc.5);
        let at = *group_at.entry(key).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[at].1.push(r.id);
        taken.push((i, r.id));
        changed.push(Changed {
            row: r,
            state,
            vendor_id: r.vendor_id.as_deref(),
            code: rc.3,
            cause,
            vendor_code: rc.5,
        });
    }
    let writes: ReceiptWrites = groups
        .into_iter()
        .map(|((s, c, k, v), ids)| {
            let mut j = String::from("[");
            for (n, id) in ids.iter().enumerate() {
                if n > 0 {
                    j.push(',');
                }
                push_int(&mut j, *id);
            }
            j.push(']');
            (s.to_owned(), c, k.map(str::to_owned), v, j)
        })
        .collect();
    // States and causes are bound as parameters: only the payloads may hold a NUL.
    checked(Plan {
        taken,
        roll_up: roll_up(&changed),
        writes,
        rest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: &str = r#"[7,"m1",0,"in_flight",null,null,null,null,"bu1","r\n1",1,"queued"]"#;

    #[test]
    fn submit_writes_rolls_up_and_leaves_the_rest() {
        let heads = format!(
            "[{ROW},[8,\"m2\",0,\"queued\",null,null,null,null,\"bu1\",null,1,\"queued\"]]"
        );
        let p = plan_submits(
            &heads,
            br#"[[7,"v\"7"],[8,"v8"],[9,"v9"],[7,"again"],[7,null]]"#,
        )
        .unwrap();
        assert_eq!(p.writes, r#"[[7,"v\"7"]]"#);
        assert_eq!(p.taken, vec![(0, 7)]);
        assert_eq!(p.rest, vec![1, 2, 3, 4]);
        let up = &p.roll_up;
        assert_eq!(
            up.updates,
            vec![("en_route".to_owned(), None, None, r#"["m1"]"#.to_owned())]
        );
        assert_eq!(up.units.len(), 1);
        let (bu, slices, blob, n) = &up.units[0];
        assert_eq!(*n, 1);
        assert_eq!(bu, "bu1");
        let text = std::str::from_utf8(blob).unwrap();
        assert_eq!(
            text,
            r#"{"message_id":"m1","segment_index":0,"segment_count":1,"segment_state":"submitted","message_state":"en_route","message_state_changed":true,"client_ref":"r\n1","vendor_message_id":"v\"7"}"#
        );
        assert_eq!(slices, &format!("[[1,{}]]", blob.len()));
        assert!(up.finals.is_empty());
        assert_eq!(up.events, vec![("en_route".to_owned(), 0, 0)]);
    }

    #[test]
    fn receipts_group_by_outcome_and_units() {
        let heads = r#"[[1,"a",0,"submitted","x",null,null,null,"u1",null,1,"en_route"],
                        [2,"b",0,"submitted","y",null,null,null,"u2",null,1,"en_route"],
                        [3,"c",0,"delivered","z",null,null,null,"u1",null,1,"delivered"]]"#;
        let p = plan_receipts(
            heads,
            "[]",
            br#"[[1,true,"delivered",0,"DELIVERED",null],[2,true,"failed",10,"X",7],
                [3,true,"delivered",0,"DELIVERED",null],[1,true,"delivered",0,"DELIVERED",null]]"#,
        )
        .unwrap();
        assert_eq!(p.rest, vec![2, 3]);
        assert_eq!(p.taken, vec![(0, 1), (1, 2)]);
        assert_eq!(p.writes.len(), 2);
        assert_eq!(p.writes[0].4, "[1]");
        assert_eq!(
            p.writes[1],
            (
                "failed".into(),
                Some(10),
                Some("X".into()),
                Some(7),
                "[2]".into()
            )
        );
        assert_eq!(p.roll_up.finals, vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(p.roll_up.units.len(), 2);
        assert_eq!(
            p.roll_up.events,
            vec![("delivered".to_owned(), 0, 0), ("failed".to_owned(), 1, 0)]
        );
        let failed = std::str::from_utf8(&p.roll_up.units[1].2).unwrap();
        assert!(failed.contains(r#""message_state":"failed","message_state_changed":true,"generic_code":10,"generic_cause":"X","vendor_code":7,"vendor_message_id":"y""#));
    }

    #[test]
    fn an_unknown_vendor_id_holds_back_the_receipts_after_it() {
        let p = plan_receipts(
            r#"[[1,"a",0,"submitted","x",null,null,null,"u1",null,1,"en_route"]]"#,
            "[]",
            br#"[[null,true,"delivered",0,"D",null],[1,true,"delivered",0,"D",null]]"#,
        )
        .unwrap();
        assert_eq!(p.rest, vec![0, 1]);
        assert!(p.taken.is_empty());
    }

    #[test]
    fn nul_and_garbage_are_refused() {
        assert!(plan_submits(&format!("[{ROW}]"), br#"[[7,"v\u0000"]]"#).is_none());
        assert!(plan_submits("[[1]]", b"[]").is_none());
        assert!(plan_receipts("[]", "[", b"[]").is_none());
    }
}
