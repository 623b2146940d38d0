//! Stored `status` events as the websocket API's JSON, a page at a time.
//!
//! The gateway's busiest stream is status events: two per one-segment
//! message, each shown to the application as a segment-level `status` and,
//! when it moved the message's rolled-up state, a message-level one. Made in
//! Python, every event was decoded from its stored JSON into a dict, turned
//! into `api.Status` Structs and encoded again, all on the event loop. Here a
//! whole page becomes the frame text in one call that needs no interpreter
//! (the binding releases the GIL).
//!
//! This is `byosms.api.server.event_messages` for `status` events and must
//! say exactly what it says; tests/test_status_frames.py holds the two equal.
//! Anything this does not know to be a plain status event (another type, a
//! field of an unexpected JSON type, a time before 1970) makes `status_frame`
//! answer `None`, and the caller takes the Python path for that page.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

/// The API `state` of a stored segment state.
fn segment_state(stored: &str) -> &'static str {
    match stored {
        "queued" | "in_flight" => "queued",
        "submitted" => "en_route",
        "delivered" => "delivered",
        "failed" => "failed",
        _ => "unknown",
    }
}

/// S7 generic code and cause of a state when the event carries none.
fn state_default(state: &str) -> (i64, &'static str) {
    match state {
        "queued" => (5, "DEFERRED"),
        "en_route" => (6, "EN_ROUTE"),
        "delivered" => (0, "DELIVERED"),
        "failed" => (1, "UNKNOWN_FAILURE"),
        _ => (9, "UNKNOWN"),
    }
}

/// A stored status payload's fields, read straight from its JSON: strings
/// borrowed where they need no unescaping, no map of owned keys and values.
/// A field of an unexpected JSON type fails the read (the caller then leaves
/// the page to Python); unknown fields are skipped; a repeated field takes
/// its last value, as Python's json does.
#[derive(Default)]
struct Payload<'a> {
    message_id: Option<Cow<'a, str>>,
    client_ref: Option<Cow<'a, str>>,
    segment_index: Option<i64>,
    segment_count: Option<i64>,
    segment_state: Option<Cow<'a, str>>,
    /// Absent: None; present: Some (a present null would be a null state,
    /// which only Python says how to show).
    message_state: Option<Option<Cow<'a, str>>>,
    message_state_changed: Option<bool>,
    generic_code: Option<i64>,
    generic_cause: Option<Cow<'a, str>>,
    vendor_code: Option<VendorCode<'a>>,
}

/// `vendor_code`: shown as a string whether stored as a string or an integer.
enum VendorCode<'a> {
    Str(Cow<'a, str>),
    Int(i64),
}

/// A string that borrows from the input when it can.
pub(crate) struct Text<'a>(pub(crate) Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for VendorCode<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = VendorCode<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an integer")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(VendorCode::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(VendorCode::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(VendorCode::Str(Cow::Owned(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(VendorCode::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i64::try_from(v)
                    .map(VendorCode::Int)
                    .map_err(|_| E::custom("beyond i64"))
            }
        }
        d.deserialize_any(V)
    }
}

/// An optional value: null reads as None.
fn nullable<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    map: &mut A,
) -> Result<Option<T>, A::Error> {
    map.next_value::<Option<T>>()
}

fn text<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Cow<'de, str>>, A::Error> {
    Ok(nullable::<Text<'de>, A>(map)?.map(|t| t.0))
}

impl<'de> Deserialize<'de> for Payload<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Payload<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a status payload object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut p = Payload::default();
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    match &*key.0 {
                        "message_id" => p.message_id = text(&mut map)?,
                        "client_ref" => p.client_ref = text(&mut map)?,
                        "segment_index" => p.segment_index = nullable(&mut map)?,
                        "segment_count" => p.segment_count = nullable(&mut map)?,
                        "segment_state" => p.segment_state = text(&mut map)?,
                        "message_state" => p.message_state = Some(text(&mut map)?),
                        "message_state_changed" => p.message_state_changed = nullable(&mut map)?,
                        "generic_code" => p.generic_code = nullable(&mut map)?,
                        "generic_cause" => p.generic_cause = text(&mut map)?,
                        "vendor_code" => p.vendor_code = nullable(&mut map)?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(p)
            }
        }
        d.deserialize_map(V)
    }
}

/// The facts of one status payload, checked.
struct Status<'a> {
    message_id: &'a str,
    client_ref: Option<&'a str>,
    segment: Option<i64>,
    segments: Option<i64>,
    segment_state: &'static str,
    message_state: Option<&'a str>,
    moved: bool,
    code: Option<i64>,
    cause: Option<&'a str>,
    vendor_code: Option<Cow<'a, str>>,
}

fn read_status<'a>(p: &'a Payload<'_>) -> Option<Status<'a>> {
    let segment = match p.segment_index {
        Some(i) => Some(i.checked_add(1)?),
        None => None,
    };
    // p.get("message_state", "unknown"): a present null would be a null state.
    let message_state = match &p.message_state {
        None => None,
        Some(Some(s)) => Some(&**s),
        Some(None) => return None,
    };
    Some(Status {
        message_id: p.message_id.as_deref()?, // a missing or null message_id is refused
        client_ref: p.client_ref.as_deref(),
        segment,
        segments: p.segment_count,
        // A null state reads as "unknown", as in Python.
        segment_state: segment_state(p.segment_state.as_deref().unwrap_or("")),
        message_state,
        moved: p.message_state_changed.unwrap_or(false),
        code: p.generic_code,
        cause: p.generic_cause.as_deref(),
        vendor_code: match &p.vendor_code {
            None => None,
            Some(VendorCode::Str(s)) => Some(Cow::Borrowed(&**s)),
            Some(VendorCode::Int(i)) => Some(Cow::Owned(i.to_string())),
        },
    })
}

pub(crate) fn push_json_str(out: &mut String, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        // Nothing to escape (ids, states, causes): as it is.
        out.push('"');
        out.push_str(s);
        out.push('"');
        return;
    }
    // serde_json escapes as JSON requires; writing a &str cannot fail.
    out.push_str(&serde_json::to_string(s).expect("a str is always JSON"));
}

pub(crate) fn push_int(out: &mut String, i: i64) {
    out.push_str(itoa::Buffer::new().format(i));
}

/// `,"name":"value"` when there is a value (fields at None are left out).
pub(crate) fn push_opt_str(out: &mut String, name: &str, v: Option<&str>) {
    if let Some(v) = v {
        out.push_str(",\"");
        out.push_str(name);
        out.push_str("\":");
        push_json_str(out, v);
    }
}

/// `,"name":value` when there is a value.
pub(crate) fn push_opt_int(out: &mut String, name: &str, v: Option<i64>) {
    if let Some(v) = v {
        out.push_str(",\"");
        out.push_str(name);
        out.push_str("\":");
        push_int(out, v);
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` as `byosms.api.server._rfc3339` writes it:
/// whole seconds by truncation, milliseconds by truncation of the rest.
fn rfc3339(t: f64) -> Option<String> {
    if !(0.0..253_402_300_800.0).contains(&t) {
        // NaN is in no range
        return None; // before 1970 or after 9999: the Python path says it
    }
    let whole = t.trunc();
    let ms = ((t - whole) * 1000.0) as i64;
    let secs = whole as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    ))
}

/// Proleptic Gregorian date of a day count from 1970-01-01 (H. Hinnant's
/// days-to-civil algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// One API `status` object (fields in `api.Status` order, absent ones left
/// out as its encoder's omit_defaults does).
#[allow(clippy::too_many_arguments)]
fn push_status(
    out: &mut String,
    cursor: i64,
    s: &Status<'_>,
    state: &str,
    code: i64,
    cause: &str,
    segment: bool,
    at: &str,
) {
    out.push_str("{\"type\":\"status\",\"cursor\":");
    push_int(out, cursor);
    out.push_str(",\"message_id\":");
    push_json_str(out, s.message_id);
    out.push_str(",\"state\":");
    push_json_str(out, state);
    out.push_str(",\"generic_code\":");
    push_int(out, code);
    out.push_str(",\"generic_cause\":");
    push_json_str(out, cause);
    if segment {
        push_opt_int(out, "segment", s.segment);
        push_opt_int(out, "segments", s.segments);
    }
    push_opt_str(out, "vendor_code", s.vendor_code.as_deref());
    push_opt_str(out, "client_ref", s.client_ref);
    out.push_str(",\"at\":\"");
    out.push_str(at);
    out.push_str("\"}");
}

fn push_event(out: &mut String, cursor: i64, s: &Status<'_>, at: &str) {
    let seg = s.segment_state;
    let (dcode, dcause) = state_default(seg);
    let (code, cause) = (s.code.unwrap_or(dcode), s.cause.unwrap_or(dcause));
    push_status(out, cursor, s, seg, code, cause, true, at);
    if !s.moved {
        return;
    }
    out.push(',');
    let m = s.message_state.unwrap_or("unknown");
    let (mcode, mcause) = state_default(m);
    if m == "queued" || m == "en_route" {
        // A non-final roll-up carries no final code of its own.
        push_status(out, cursor, s, m, mcode, mcause, false, at);
    } else {
        // The event's code, else the message state's default (the segment's
        // when the segment decided it, as usual).
        push_status(
            out,
            cursor,
            s,
            m,
            s.code.unwrap_or(mcode),
            s.cause.unwrap_or(mcause),
            false,
            at,
        );
    }
}

/// The frame text (a JSON array of API messages) of a page of stored events
/// and the page's last cursor, or `None` when some event of the page is not
/// a plain status event. `heads`: JSON `[[cursor, type, created], ...]`;
/// `payloads`: their stored JSON objects, comma-separated, in the same order.
pub fn status_frame(heads: &str, payloads: &str) -> Option<(String, i64)> {
    let heads: Vec<(i64, Text<'_>, f64)> = serde_json::from_str(heads).ok()?;
    let page = format!("[{payloads}]");
    let payloads: Vec<Payload<'_>> = serde_json::from_str(&page).ok()?;
    if heads.is_empty() || heads.len() != payloads.len() {
        return None;
    }
    let mut out = String::with_capacity(payloads.len() * 420 + 2);
    out.push('[');
    let mut last_at: (f64, String) = (f64::NAN, String::new());
    for (k, ((cursor, kind, created), p)) in heads.iter().zip(&payloads).enumerate() {
        if kind.0 != "status" {
            return None;
        }
        let s = read_status(p)?;
        // The events of one store transaction share its time.
        if last_at.0 != *created {
            last_at = (*created, rfc3339(*created)?);
        }
        if k > 0 {
            out.push(',');
        }
        push_event(&mut out, *cursor, &s, &last_at.1);
    }
    out.push(']');
    Some((out, heads.last()?.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn frame(p: &str) -> Option<Value> {
        status_frame("[[7,\"status\",1700000000.25]]", p).map(|(t, last)| {
            assert_eq!(last, 7);
            serde_json::from_str(&t).unwrap()
        })
    }

    #[test]
    fn delivered_segment_moves_message() {
        let v = frame(
            r#"{"message_id":"m1","client_ref":"r\n\"1","segment_index":0,"segment_count":1,
               "segment_state":"delivered","message_state":"delivered",
               "message_state_changed":true,"generic_code":0,"generic_cause":"DELIVERED",
               "vendor_code":0,"vendor_message_id":"abc"}"#,
        )
        .unwrap();
        let want: Value = serde_json::from_str(
            r#"[{"type":"status","cursor":7,"message_id":"m1","state":"delivered",
                "generic_code":0,"generic_cause":"DELIVERED","segment":1,"segments":1,
                "vendor_code":"0","client_ref":"r\n\"1","at":"2023-11-14T22:13:20.250Z"},
               {"type":"status","cursor":7,"message_id":"m1","state":"delivered",
                "generic_code":0,"generic_cause":"DELIVERED","vendor_code":"0",
                "client_ref":"r\n\"1","at":"2023-11-14T22:13:20.250Z"}]"#,
        )
        .unwrap();
        assert_eq!(v, want);
    }

    #[test]
    fn submitted_rolls_up_to_en_route_with_defaults() {
        let v = frame(
            r#"{"message_id":"m2","segment_index":1,"segment_count":3,"segment_state":"submitted",
               "message_state":"en_route","message_state_changed":true}"#,
        )
        .unwrap();
        assert_eq!(v[0]["state"], "en_route");
        assert_eq!(v[0]["generic_code"], 6);
        assert_eq!(v[0]["segment"], 2);
        assert_eq!(v[1]["generic_cause"], "EN_ROUTE");
        assert!(v[1].get("segment").is_none() && v[1].get("client_ref").is_none());
    }

    #[test]
    fn anything_unusual_is_left_to_python() {
        assert!(frame(r#"{"segment_state":"delivered"}"#).is_none());
        assert!(frame(r#"{"message_id":"m","generic_code":"7"}"#).is_none());
        assert!(frame(r#"{"message_id":"m","generic_code":1.5}"#).is_none());
        assert!(frame(r#"{"message_id":"m","message_state":null}"#).is_none());
        assert!(frame(r#"{"message_id":"m","message_state_changed":1}"#).is_none());
        assert!(status_frame("[[1,\"inbound\",1.0]]", r#"{"message_id":"m"}"#).is_none());
        assert!(status_frame("[[1,\"status\",-1.5]]", r#"{"message_id":"m"}"#).is_none());
        assert!(status_frame("[]", "").is_none());
        assert!(status_frame("[[1,\"status\",1.0]]", "{").is_none());
    }

    #[test]
    fn escaped_repeated_and_unknown_fields_read_as_python_reads_them() {
        // Escapes (owned strings), a repeated key (the last one wins), an
        // unknown key with a nested value (skipped), an escaped key.
        let v = frame(
            r#"{"message_id":"first","message_id":"m\"1\u00e9","extra":{"a":[1,{"b":null}]},
               "segment_st\u0061te":"delivered","message_state":"delivered",
               "message_state_changed":false,"vendor_code":"x\ty","client_ref":"\u2028"}"#,
        )
        .unwrap();
        assert_eq!(v[0]["message_id"], "m\"1\u{e9}");
        assert_eq!(v[0]["state"], "delivered");
        assert_eq!(v[0]["vendor_code"], "x\ty");
        assert_eq!(v[0]["client_ref"], "\u{2028}");
        assert_eq!(v.as_array().unwrap().len(), 1);
        // Integers beyond i64 are not codes this path shows.
        assert!(frame(r#"{"message_id":"m","vendor_code":9223372036854775808}"#).is_none());
        assert!(frame(r#"{"message_id":"m","segment_index":9223372036854775807}"#).is_none());
        assert_eq!(
            frame(r#"{"message_id":"m","vendor_code":-9223372036854775808}"#).unwrap()[0]
                ["vendor_code"],
            "-9223372036854775808"
        );
    }

    #[test]
    fn dates_match_the_calendar() {
        assert_eq!(rfc3339(0.0).unwrap(), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400.5).unwrap(), "2000-02-29T00:00:00.500Z");
        assert_eq!(
            rfc3339(253_402_300_799.0).unwrap(),
            "9999-12-31T23:59:59.000Z"
        );
    }
}
