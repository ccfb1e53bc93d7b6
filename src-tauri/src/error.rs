//! The error the UI receives: a kind to branch on and one line to show.

use serde::Serialize;

/// An engine error as the web view sees it.
#[derive(Debug, Serialize)]
pub struct IpcError {
    /// `not-found` or `failed`.
    pub kind: &'static str,
    /// One line for people.
    pub message: String,
}

impl From<opsdeck::Error> for IpcError {
    fn from(error: opsdeck::Error) -> Self {
        Self {
            kind: if error.is_not_found() {
                "not-found"
            } else {
                "failed"
            },
            message: error.to_string(),
        }
    }
}
