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

impl IpcError {
    /// A request the face should not have made, or could not carry out.
    pub fn invalid(message: &str) -> Self {
        Self {
            kind: "failed",
            message: message.to_string(),
        }
    }
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
