//! A loaded WSDL contract: the model from `ithaca_wsdl` plus the original
//! text, which `?wsdl` publishes.

use std::path::Path;
use std::sync::Arc;

use ithaca_wsdl::{LoadOptions, Loaded, load_bytes, load_file};

use super::error::SetupError;
use super::publish::Publication;

/// A WSDL 1.1 contract, loaded and checked, ready to host.
///
/// Loading fails when the loader reports any error; warnings are kept in
/// [`Contract::loaded`]'s diagnostics.
#[derive(Debug, Clone)]
pub struct Contract {
    name: String,
    loaded: Arc<Loaded>,
    publication: Arc<Publication>,
}

impl Contract {
    /// Loads a contract from memory. `name` appears in diagnostics; the
    /// document must be self-contained (imports are not fetched from
    /// memory).
    pub fn from_bytes(name: &str, bytes: impl AsRef<[u8]>) -> Result<Self, SetupError> {
        let bytes = bytes.as_ref();
        let loaded = load_bytes(name, bytes, &LoadOptions::default());
        Self::new(name, bytes, loaded, None)
    }

    /// Loads the contract in the file at `path` with its local imports and
    /// includes.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, SetupError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| SetupError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let loaded = load_file(path, &LoadOptions::default());
        Self::new(&path.display().to_string(), &bytes, loaded, Some(path))
    }

    fn new(
        name: &str,
        bytes: &[u8],
        loaded: Loaded,
        path: Option<&Path>,
    ) -> Result<Self, SetupError> {
        if loaded.has_errors() {
            let errors = loaded
                .errors()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n");
            return Err(SetupError::Load {
                name: name.to_owned(),
                errors,
            });
        }
        let published = match path {
            Some(path) => Publication::from_file(path, bytes),
            None => Publication::new(bytes),
        };
        let publication = published.map_err(|problem| SetupError::Publication {
            name: name.to_owned(),
            problem,
        })?;
        Ok(Self {
            name: name.to_owned(),
            loaded: Arc::new(loaded),
            publication: Arc::new(publication),
        })
    }

    /// The name given when loading (a path for files).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The loaded model: definitions, schema and diagnostics.
    pub fn loaded(&self) -> &Loaded {
        &self.loaded
    }

    pub(crate) fn loaded_arc(&self) -> Arc<Loaded> {
        self.loaded.clone()
    }

    pub(crate) fn publication(&self) -> Arc<Publication> {
        self.publication.clone()
    }
}
