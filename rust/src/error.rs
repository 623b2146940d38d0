//! The one error type of the codec. Every error names the field at fault and
//! the SMPP command_status a peer should be answered with (generic_nack or
//! the matching *_resp), so the I/O layer never has to guess.

use std::fmt;

use crate::status;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError {
    /// command_status to answer with (e.g. ESME_RINVCMDLEN).
    pub status: u32,
    /// The field (or "header", "stream") that was wrong.
    pub field: &'static str,
    pub message: String,
}

impl CodecError {
    pub fn new(status: u32, field: &'static str, message: impl Into<String>) -> Self {
        CodecError { status, field, message: message.into() }
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}: {}): {}",
            self.field,
            status::name(self.status).unwrap_or("ESME_UNKNOWN"),
            format_args!("0x{:08X}", self.status),
            self.message
        )
    }
}

impl std::error::Error for CodecError {}

pub type Result<T> = std::result::Result<T, CodecError>;
