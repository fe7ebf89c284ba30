//! `CosNaming::Binding`: what `list` returns for each bound name.

use crate::cdr::{CdrReader, CdrWriter};

use super::name::{Name, NameComponent};

/// `enum BindingType { nobject, ncontext }`.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum BindingType {
    /// The name is bound to an object.
    Object,
    /// The name is bound to a naming context.
    Context,
}

impl BindingType {
    /// Reads the enum (a `ulong`).
    pub fn read(r: &mut CdrReader) -> crate::Result<Self> {
        match r.read_ulong()? {
            0 => Ok(Self::Object),
            1 => Ok(Self::Context),
            value => Err(crate::Error::InvalidEnum {
                what: "CosNaming::BindingType",
                value,
            }),
        }
    }

    /// Writes the enum.
    pub fn write(self, w: &mut CdrWriter<'_>) {
        w.write_ulong(match self {
            Self::Object => 0,
            Self::Context => 1,
        });
    }
}

/// `struct Binding { Name binding_name; BindingType binding_type; }`.
#[derive(Clone, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct Binding {
    /// The bound name (one component when it comes from `list`).
    pub name: Name,
    /// What it is bound to.
    pub binding_type: BindingType,
}

impl Binding {
    /// A binding of one component.
    pub fn new(component: NameComponent, binding_type: BindingType) -> Self {
        Self {
            name: Name(vec![component]),
            binding_type,
        }
    }

    /// Reads a binding.
    pub fn read(r: &mut CdrReader) -> crate::Result<Self> {
        Ok(Self {
            name: Name::read(r)?,
            binding_type: BindingType::read(r)?,
        })
    }

    /// Writes a binding.
    pub fn write(&self, w: &mut CdrWriter<'_>) -> crate::Result<()> {
        self.name.write(w)?;
        self.binding_type.write(w);
        Ok(())
    }

    /// Reads a `BindingList` of at most `max` bindings.
    pub fn read_list(r: &mut CdrReader, max: usize) -> crate::Result<Vec<Self>> {
        // A binding is at least a name count and a binding type.
        let len = r.read_length(8)?;
        if len > max {
            return Err(crate::Error::LimitExceeded {
                what: "bindings in a list",
                value: len,
                limit: max,
            });
        }
        let mut bindings = Vec::with_capacity(len);
        for _ in 0..len {
            bindings.push(Self::read(r)?);
        }
        Ok(bindings)
    }

    /// Writes a `BindingList`.
    pub fn write_list(bindings: &[Self], w: &mut CdrWriter<'_>) -> crate::Result<()> {
        w.write_sequence(bindings, |w, b| b.write(w))
    }
}

/// A binding list is never longer than this many entries in one reply
/// (clients read the rest through the iterator).
pub const MAX_BINDINGS_PER_REPLY: usize = 64 * 1024;
