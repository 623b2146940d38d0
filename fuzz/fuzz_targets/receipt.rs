//! Arbitrary receipt texts and receipt TLVs through parse_receipt and
//! receipt_of: no panic, the appendix B fast path agrees with the general
//! parser, both entry points agree, and every accessor works on the result.
#![no_main]

use byosms_core::pdu::{self, Body, Pdu};
use byosms_core::receipt::{self, ReceiptTlvs};
use byosms_core::tlv::Tlv;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Layout: [flags][id len][state][id...][nec 3][text...]
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Some((&id_len, rest)) = rest.split_first() else {
        return;
    };
    let Some((&state, rest)) = rest.split_first() else {
        return;
    };
    let (id, rest) = rest.split_at(usize::from(id_len % 32).min(rest.len()));
    let nec_len = if flags & 8 != 0 { 3 } else { usize::from(flags >> 6) };
    let (nec, text) = rest.split_at(nec_len.min(rest.len()));

    receipt::check_appendix_b_fast_path(text);

    let tlvs = ReceiptTlvs {
        receipted_message_id: (flags & 1 != 0).then_some(id),
        message_state: (flags & 2 != 0).then_some(state),
        network_error_code: (flags & 4 != 0).then_some(nec),
    };
    let parsed = receipt::parse_receipt(text, &tlvs);
    if let Ok(r) = &parsed {
        let _ = (r.message_id(), r.stat(), r.submit_date(), r.done_date(), r.err(), r.text());
        let _ = r.extra().count();
        let _ = r.id_keys();
        assert_eq!(r, r);
    }
    assert_eq!(receipt::parse_receipt(text, &tlvs).ok(), parsed.as_ref().ok().cloned());

    // The same through a deliver_sm, as the session sees it.
    let Ok(mut p) = Pdu::new(pdu::DELIVER_SM, 1) else {
        return;
    };
    if let Body::Sm(b) = &mut p.body {
        b.esm_class = if flags & 16 != 0 { 0x04 } else { 0 };
        b.short_message = text.into();
        let mut t = Vec::new();
        if let Some(id) = tlvs.receipted_message_id {
            t.push(Tlv::new(receipt::TAG_RECEIPTED_MESSAGE_ID, id.to_vec()));
        }
        if let Some(s) = tlvs.message_state {
            t.push(Tlv::from_u8(receipt::TAG_MESSAGE_STATE, s));
        }
        if let Some(n) = tlvs.network_error_code {
            t.push(Tlv::new(receipt::TAG_NETWORK_ERROR_CODE, n.to_vec()));
        }
        b.tlvs = t;
    }
    match receipt::receipt_of(&p) {
        None => assert!(flags & 16 == 0 && flags & 1 == 0),
        Some(r) => assert_eq!(r.ok(), parsed.ok()),
    }
});
