//! Why a payload could not be decoded into a [`Value`](super::Value), or a
//! value could not be encoded; every error names the element path at
//! fault and maps to exactly one SOAP fault code.

use thiserror::Error;

use crate::error::ReadError;
use crate::fault::FaultCode;

/// Why decoding or encoding a value failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValueError {
    /// The payload is not acceptable XML (well-formedness, DOCTYPE,
    /// entities, the limits of [`Limits`](crate::Limits)).
    #[error(transparent)]
    Xml(#[from] ReadError),
    /// The payload does not fit the schema: an unexpected or missing
    /// element, a bad simple value, `xsi:nil` where not allowed, a broken
    /// `href`.
    #[error("{path}: {message}")]
    Invalid {
        /// The element path, such as `/getPerson/person/age`.
        path: String,
        /// What is wrong, in words.
        message: String,
    },
    /// The payload breaks a bound of [`ValueLimits`](super::ValueLimits).
    #[error("{path}: {message}")]
    Limit {
        /// The element path where the bound was crossed.
        path: String,
        /// Which bound, in words.
        message: String,
    },
    /// The payload uses a SOAP encoding feature this codec refuses
    /// (multi-dimensional or partially transmitted arrays, SOAP 1.2
    /// encoding).
    #[error("{path}: {message}")]
    Unsupported {
        /// The element path.
        path: String,
        /// The feature, in words.
        message: String,
    },
    /// A value given to the encoder does not fit its declared type (a
    /// handler's mistake, not the client's).
    #[error("{path}: {message}")]
    Unencodable {
        /// The element path of the value.
        path: String,
        /// What does not fit, in words.
        message: String,
    },
}

impl ValueError {
    /// The SOAP fault code that answers this error: the sender's for
    /// anything about the request, the receiver's for a value the service
    /// could not encode.
    pub fn fault_code(&self) -> FaultCode {
        match self {
            Self::Xml(error) => error.fault_code(),
            Self::Invalid { .. } | Self::Limit { .. } | Self::Unsupported { .. } => {
                FaultCode::Sender
            }
            Self::Unencodable { .. } => FaultCode::Receiver,
        }
    }

    pub(crate) fn invalid(path: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            path: display_path(path),
            message: one_line(&message.into()),
        }
    }

    pub(crate) fn limit(path: &str, message: impl Into<String>) -> Self {
        Self::Limit {
            path: display_path(path),
            message: one_line(&message.into()),
        }
    }

    pub(crate) fn unsupported(path: &str, message: impl Into<String>) -> Self {
        Self::Unsupported {
            path: display_path(path),
            message: one_line(&message.into()),
        }
    }

    pub(crate) fn unencodable(path: &str, message: impl Into<String>) -> Self {
        Self::Unencodable {
            path: display_path(path),
            message: one_line(&message.into()),
        }
    }
}

/// Keeps a message on one line: line ends and tabs taken from the input
/// are shown escaped.
pub(crate) fn one_line(text: &str) -> String {
    if !text.contains(['\n', '\r', '\t']) {
        return text.to_owned();
    }
    text.replace('\n', "\\n")
        .replace('\r', "\\r")
        .replace('\t', "\\t")
}

fn display_path(path: &str) -> String {
    if path.is_empty() {
        "/".to_owned()
    } else {
        one_line(path)
    }
}
