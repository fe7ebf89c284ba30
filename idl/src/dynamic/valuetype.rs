//! The GIOP encoding of valuetypes and value boxes (CORBA 3.0 §15.3.4):
//! value tags, repository ids, chunking and indirections.
//!
//! A value position in the stream holds one of
//!
//! - `0`: the null value;
//! - `0xffffffff` and a negative `long` offset (counted from the offset
//!   field itself) back to the tag of a value marshalled earlier in the
//!   same stream: a shared reference, which is how graphs with sharing and
//!   cycles are sent;
//! - a value tag `0x7fffff00`–`0x7fffffff`, whose low bits say whether a
//!   codebase URL follows (bit 0, read and ignored: nothing is ever
//!   fetched), whether no, one or a list of repository ids follow (bits
//!   1–2: `0`, `2`, `6`) and whether the state is chunked (bit 3); then
//!   the state members, bases' first.
//!
//! Chunked state is split into chunks, each a positive `long` size and
//! that many bytes; a nested value ends the current chunk and starts with
//! its own tag outside any chunk; a value ends with an end tag, the
//! negated nesting level of chunked values (enclosing unchunked values do
//! not count), which may close several nested values at once. Repository
//! ids and codebase URLs may themselves be indirections to an earlier
//! copy of the same string (or id list).
//!
//! [`ValueReader`] and [`ValueWriter`] keep that state for one stream (one
//! GIOP body): where each value started, which strings were sent, the
//! chunk being read or written and the nesting level. The TypeCode-driven
//! codec in `value.rs` calls them at every value position and, inside
//! chunked state, before and after every primitive, so a chunk boundary
//! may fall between any two primitives but never inside one (strings and
//! octet sequences included, as the specification requires).
//!
//! Everything read is bounded: chunk sizes against the bytes that remain,
//! indirections only backwards onto a value start or string read earlier,
//! nesting by the codec's depth limit; nothing is allocated before its
//! bytes have arrived.

use std::collections::HashMap;

use crate::cdr::{CdrReader, CdrWriter};
use crate::error::{Error, Result};

/// The smallest value tag (no codebase, no type information, unchunked).
pub(crate) const TAG_MIN: u32 = 0x7fff_ff00;
/// The largest value tag.
const TAG_MAX: u32 = 0x7fff_ffff;
/// Tag bit: a codebase URL follows the tag.
const TAG_CODEBASE: u32 = 0x01;
/// Tag bits: which type information follows.
const TAG_TYPE_INFO: u32 = 0x06;
/// Type information: one repository id.
const TAG_SINGLE_ID: u32 = 0x02;
/// Type information: a list of repository ids (most derived first).
const TAG_ID_LIST: u32 = 0x06;
/// Tag bit: the state is chunked.
const TAG_CHUNKED: u32 = 0x08;
/// The indirection marker (also the end tag of nesting level 1).
const INDIRECTION: u32 = 0xffff_ffff;

/// How many repository ids one value may list.
pub const MAX_VALUE_IDS: usize = 64;

/// The message of a value whose type the contract does not know: the
/// "no value factory" case, MARSHAL minor code 1 on a servant.
pub const NO_VALUE_FACTORY: &str =
    "valuetype of a type the contract does not name and that cannot be truncated to it";

fn bad(what: impl Into<String>) -> Error {
    Error::TypeMismatch(format!("bad valuetype encoding: {}", what.into()))
}

/// What a value is, for checking that a shared reference lands on a value
/// of the right sort.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Sort {
    /// A value box of this repository id.
    Boxed(String),
    /// A valuetype (of any type: derived values may be shared).
    Valuetype,
}

impl Sort {
    fn describe(&self) -> String {
        match self {
            Self::Boxed(id) => format!("value box {id}"),
            Self::Valuetype => "valuetype".into(),
        }
    }
}

/// What a value position held.
#[derive(Debug)]
pub(crate) enum Header {
    /// The null value.
    Null,
    /// A shared reference to the value with this index (values are
    /// numbered from 0 in the order their tags appear in the stream).
    Shared(u32),
    /// A value follows: its repository ids (none if the tag carried none)
    /// and whether its state is chunked.
    Value {
        /// The repository ids, most derived first.
        ids: Vec<String>,
        /// Whether the state is chunked.
        chunked: bool,
    },
}

/// Reading state of the values of one stream.
#[derive(Debug, Default)]
pub(crate) struct ValueReader {
    /// Where each value tag was read: the value's index and sort, or
    /// `None` for a value skipped by truncation (never to be referenced).
    starts: HashMap<usize, Option<(u32, Sort)>>,
    /// How many values have been numbered.
    next_index: u32,
    /// Repository ids and codebase URLs by the position of their length.
    strings: HashMap<usize, String>,
    /// Repository id lists by the position of their count.
    lists: HashMap<usize, Vec<String>>,
    /// Nesting level of the chunked values being read (0: none).
    level: u32,
    /// End (buffer position) of the chunk being read, if one is open.
    chunk_end: Option<usize>,
    /// A multi-level end tag already read closed the values down to this
    /// level.
    ended: Option<u32>,
}

impl ValueReader {
    /// Whether chunked state is being read (primitives must then sit in
    /// chunks).
    #[inline]
    pub(crate) fn chunking(&self) -> bool {
        self.level > 0
    }

    /// Before a primitive inside chunked state: opens the next chunk when
    /// the current one is used up.
    pub(crate) fn enter_leaf(&mut self, r: &mut CdrReader) -> Result<()> {
        if self.level == 0 {
            return Ok(());
        }
        if self.ended.is_some_and(|p| p <= self.level) {
            return Err(bad("state continues after the value's end tag"));
        }
        match self.chunk_end {
            Some(end) if r.position() < end => Ok(()),
            Some(end) if r.position() > end => Err(bad("a primitive crosses a chunk boundary")),
            _ => self.open_chunk(r),
        }
    }

    /// After a primitive inside chunked state: checks that it stayed in
    /// its chunk.
    #[inline]
    pub(crate) fn leave_leaf(&self, r: &CdrReader) -> Result<()> {
        match self.chunk_end {
            Some(end) if self.level > 0 && r.position() > end => {
                Err(bad("a primitive crosses a chunk boundary"))
            }
            _ => Ok(()),
        }
    }

    /// Reads a chunk size and opens that chunk.
    fn open_chunk(&mut self, r: &mut CdrReader) -> Result<()> {
        self.chunk_end = None;
        // Empty chunks (size 0) are skipped; each costs 4 bytes of input.
        loop {
            r.align(4)?;
            let size = r.read_ulong()?;
            if size == 0 {
                continue;
            }
            if size >= TAG_MIN {
                return Err(bad(format!("a chunk size was expected, found {size:#x}")));
            }
            self.set_chunk(r, size)?;
            return Ok(());
        }
    }

    fn set_chunk(&mut self, r: &CdrReader, size: u32) -> Result<()> {
        let len = usize::try_from(size).map_err(|_| Error::LengthOverflow(usize::MAX))?;
        if len > r.remaining() {
            return Err(Error::LengthExceedsInput {
                length: size,
                remaining: r.remaining(),
            });
        }
        self.chunk_end = Some(r.position() + len);
        Ok(())
    }

    /// Reads what a value position holds: null, a shared reference, or a
    /// value's header (after which its state follows; call
    /// [`end_value`](Self::end_value) when it has been read).
    pub(crate) fn read_header(&mut self, r: &mut CdrReader, sort: &Sort) -> Result<Header> {
        if self.level > 0 && self.ended.is_some_and(|p| p <= self.level) {
            return Err(bad("state continues after the value's end tag"));
        }
        r.align(4)?;
        let mut in_chunk = self.level > 0 && self.chunk_end.is_some_and(|end| r.position() < end);
        if self.level > 0 && !in_chunk {
            self.chunk_end = None;
        }
        let mut start = r.position();
        let mut tag = r.read_ulong()?;
        if self.level > 0 && !in_chunk && tag != 0 && tag < TAG_MIN {
            // A chunk holding a null value or an indirection.
            self.set_chunk(r, tag)?;
            in_chunk = true;
            r.align(4)?;
            start = r.position();
            tag = r.read_ulong()?;
        }
        match tag {
            0 => {
                self.leave_leaf(r)?;
                Ok(Header::Null)
            }
            INDIRECTION => {
                let index = self.indirection(r, start, sort)?;
                self.leave_leaf(r)?;
                Ok(Header::Shared(index))
            }
            TAG_MIN..=TAG_MAX => {
                if in_chunk {
                    return Err(bad("a value tag inside a chunk"));
                }
                let (ids, chunked) = self.tag_body(r, tag)?;
                let index = self.next_index;
                self.next_index = index.checked_add(1).ok_or_else(|| bad("too many values"))?;
                self.starts.insert(start, Some((index, sort.clone())));
                if chunked {
                    self.level += 1;
                    self.chunk_end = None;
                }
                Ok(Header::Value { ids, chunked })
            }
            other => Err(Error::InvalidEnum {
                what: "valuetype tag",
                value: other,
            }),
        }
    }

    /// Reads the offset of a value indirection whose marker was at `start`.
    fn indirection(&mut self, r: &mut CdrReader, start: usize, sort: &Sort) -> Result<u32> {
        let here = r.position();
        let offset = r.read_long()?;
        let target = back(here, offset, start)?;
        match self.starts.get(&target) {
            Some(Some((index, found))) => {
                let fits = match (sort, found) {
                    (Sort::Valuetype, Sort::Valuetype) => true,
                    (Sort::Boxed(a), Sort::Boxed(b)) => a == b,
                    _ => false,
                };
                if !fits {
                    return Err(Error::TypeMismatch(format!(
                        "a shared reference to a {} where a {} is expected",
                        found.describe(),
                        sort.describe()
                    )));
                }
                Ok(*index)
            }
            Some(None) => Err(Error::Unsupported(
                "a shared reference to a value skipped by truncation",
            )),
            None => Err(bad(format!(
                "indirection to offset {target}, where no value started"
            ))),
        }
    }

    /// Reads what follows a value tag: codebase URL (ignored), repository
    /// ids; returns the ids and whether the state is chunked.
    fn tag_body(&mut self, r: &mut CdrReader, tag: u32) -> Result<(Vec<String>, bool)> {
        let chunked = tag & TAG_CHUNKED != 0;
        if self.level > 0 && !chunked {
            return Err(bad("an unchunked value inside chunked state"));
        }
        if tag & TAG_CODEBASE != 0 {
            // The codebase URL: read to get past it, never fetched.
            self.read_string(r)?;
        }
        let ids = match tag & TAG_TYPE_INFO {
            0 => Vec::new(),
            TAG_SINGLE_ID => vec![self.read_string(r)?],
            TAG_ID_LIST => self.read_id_list(r)?,
            _ => {
                return Err(Error::InvalidEnum {
                    what: "valuetype tag",
                    value: tag,
                });
            }
        };
        Ok((ids, chunked))
    }

    /// Reads a repository id or codebase URL, or an indirection to one.
    fn read_string(&mut self, r: &mut CdrReader) -> Result<String> {
        r.align(4)?;
        let start = r.position();
        let mut peek = r.clone();
        if peek.read_ulong()? == INDIRECTION {
            r.read_ulong()?;
            let here = r.position();
            let offset = r.read_long()?;
            let target = back(here, offset, start)?;
            return self.strings.get(&target).cloned().ok_or_else(|| {
                bad(format!(
                    "string indirection to offset {target}, where no id started"
                ))
            });
        }
        let text = r.read_string()?;
        self.strings.insert(start, text.clone());
        Ok(text)
    }

    /// Reads a list of repository ids, or an indirection to one.
    fn read_id_list(&mut self, r: &mut CdrReader) -> Result<Vec<String>> {
        r.align(4)?;
        let start = r.position();
        let count = r.read_ulong()?;
        if count == INDIRECTION {
            let here = r.position();
            let offset = r.read_long()?;
            let target = back(here, offset, start)?;
            return self.lists.get(&target).cloned().ok_or_else(|| {
                bad(format!(
                    "id list indirection to offset {target}, where no list started"
                ))
            });
        }
        let count = usize::try_from(count).map_err(|_| Error::LengthOverflow(usize::MAX))?;
        if count == 0 || count > MAX_VALUE_IDS {
            return Err(Error::LimitExceeded {
                what: "repository ids of a value",
                value: count,
                limit: MAX_VALUE_IDS,
            });
        }
        // Each id takes at least 4 bytes.
        if count.saturating_mul(4) > r.remaining() {
            return Err(Error::LengthExceedsInput {
                length: u32::try_from(count).unwrap_or(u32::MAX),
                remaining: r.remaining(),
            });
        }
        let mut ids = Vec::with_capacity(count);
        for _ in 0..count {
            ids.push(self.read_string(r)?);
        }
        self.lists.insert(start, ids.clone());
        Ok(ids)
    }

    /// After a value's state: for a chunked value, reads up to and
    /// including its end tag. With `truncate`, the rest of the state (the
    /// derived types' members, nested values included) is skipped;
    /// without, anything but the end tag is an error.
    pub(crate) fn end_value(
        &mut self,
        r: &mut CdrReader,
        chunked: bool,
        truncate: bool,
        depth: u32,
        max_depth: u32,
    ) -> Result<()> {
        if !chunked {
            return Ok(());
        }
        if depth > max_depth {
            return Err(Error::DepthLimitExceeded(max_depth));
        }
        let mine = self.level;
        if self.closes(mine) {
            self.chunk_end = None;
            return Ok(());
        }
        if let Some(end) = self.chunk_end {
            // Alignment padding a sender counted in its last chunk is not
            // state.
            if r.position() + r.padding(4) < end && !truncate {
                return Err(bad("a value's chunk holds more than its type's state"));
            }
            r.skip(end.saturating_sub(r.position()))?;
        }
        self.chunk_end = None;
        loop {
            r.align(4)?;
            let start = r.position();
            let tag = r.read_ulong()?;
            match tag {
                0 if truncate => {}
                1..TAG_MIN => {
                    if !truncate {
                        return Err(bad("a value has more state than its type"));
                    }
                    let len =
                        usize::try_from(tag).map_err(|_| Error::LengthOverflow(usize::MAX))?;
                    r.skip(len)?;
                }
                TAG_MIN..=TAG_MAX if truncate => {
                    // A nested value of the skipped state: skip it too.
                    let (_, nested_chunked) = self.tag_body(r, tag)?;
                    if !nested_chunked {
                        return Err(bad("an unchunked value inside chunked state"));
                    }
                    self.starts.insert(start, None);
                    self.level += 1;
                    self.end_value(r, true, true, depth + 1, max_depth)?;
                    if self.closes(mine) {
                        return Ok(());
                    }
                }
                0x8000_0000..=INDIRECTION => {
                    // An end tag: the negated nesting level it closes.
                    let closed = tag.wrapping_neg();
                    if closed > mine {
                        return Err(bad(format!(
                            "end tag of level {closed} inside a value of level {mine}"
                        )));
                    }
                    if closed < mine {
                        self.ended = Some(closed);
                    }
                    self.level = mine.saturating_sub(1);
                    self.chunk_end = None;
                    return Ok(());
                }
                other => {
                    return Err(bad(format!(
                        "an end tag was expected after a value's state, found {other:#x}"
                    )));
                }
            }
        }
    }
}

impl ValueReader {
    /// Whether a multi-level end tag already read closed the value at
    /// level `mine`; if so, leaves it.
    fn closes(&mut self, mine: u32) -> bool {
        match self.ended {
            Some(closed) if closed <= mine => {
                if closed == mine {
                    self.ended = None;
                }
                self.level = mine.saturating_sub(1);
                true
            }
            _ => false,
        }
    }
}

/// The absolute position an indirection offset read at `here` points to;
/// it must land before `start`, the indirection marker.
fn back(here: usize, offset: i32, start: usize) -> Result<usize> {
    let target = i64::try_from(here).unwrap_or(i64::MAX) + i64::from(offset);
    match usize::try_from(target) {
        Ok(target) if target < start => Ok(target),
        _ => Err(bad(format!(
            "indirection offset {offset} does not point back into the stream"
        ))),
    }
}

/// Writing state of the values of one stream.
#[derive(Debug, Default)]
pub(crate) struct ValueWriter {
    /// Where each value's tag was written, and its sort, by index.
    starts: Vec<(usize, Sort)>,
    /// Where each repository id was first written (its length).
    strings: HashMap<String, usize>,
    /// Nesting level of the chunked values being written (0: none).
    level: u32,
    /// The size field of the open chunk (as [`CdrWriter::written`]).
    open: Option<usize>,
}

impl ValueWriter {
    /// Whether chunked state is being written.
    #[inline]
    pub(crate) fn chunking(&self) -> bool {
        self.level > 0
    }

    /// Before a primitive: inside chunked state, opens a chunk if none is.
    #[inline]
    pub(crate) fn enter_leaf(&mut self, w: &mut CdrWriter<'_>) {
        if self.level > 0 && self.open.is_none() {
            w.align(4);
            self.open = Some(w.written());
            w.write_ulong(0);
        }
    }

    /// Ends the open chunk, writing its size.
    fn close_chunk(&mut self, w: &mut CdrWriter<'_>) -> Result<()> {
        if let Some(at) = self.open.take() {
            let size = w.written() - at - 4;
            let size = u32::try_from(size)
                .ok()
                .filter(|s| *s < TAG_MIN)
                .ok_or(Error::LengthOverflow(size))?;
            w.patch_written_ulong(at, size);
        }
        Ok(())
    }

    /// Writes the null value.
    pub(crate) fn write_null(&mut self, w: &mut CdrWriter<'_>) {
        self.enter_leaf(w);
        w.write_ulong(0);
    }

    /// Writes a shared reference to the value with this index.
    pub(crate) fn write_shared(
        &mut self,
        w: &mut CdrWriter<'_>,
        index: u32,
        sort: &Sort,
    ) -> Result<()> {
        let (target, found) = usize::try_from(index)
            .ok()
            .and_then(|i| self.starts.get(i))
            .cloned()
            .ok_or_else(|| {
                Error::TypeMismatch(format!(
                    "a shared reference to value {index}, which was not written before it"
                ))
            })?;
        let fits = match (sort, &found) {
            (Sort::Valuetype, Sort::Valuetype) => true,
            (Sort::Boxed(a), Sort::Boxed(b)) => a == b,
            _ => false,
        };
        if !fits {
            return Err(Error::TypeMismatch(format!(
                "a shared reference to a {} where a {} is expected",
                found.describe(),
                sort.describe()
            )));
        }
        self.enter_leaf(w);
        w.write_ulong(INDIRECTION);
        w.write_long(offset_to(target, w.written())?);
        Ok(())
    }

    /// Writes a value's tag and repository ids (one, or a list when there
    /// are several: a truncatable value's). The state follows; call
    /// [`end_value`](Self::end_value) after it. Values inside chunked
    /// state are always chunked. Returns whether this value is.
    pub(crate) fn begin_value(
        &mut self,
        w: &mut CdrWriter<'_>,
        ids: &[&str],
        chunked: bool,
        sort: Sort,
    ) -> Result<bool> {
        let chunked = chunked || self.level > 0;
        self.close_chunk(w)?;
        w.align(4);
        let start = w.written();
        let mut tag = TAG_MIN;
        if chunked {
            tag |= TAG_CHUNKED;
        }
        tag |= match ids.len() {
            0 => 0,
            1 => TAG_SINGLE_ID,
            _ => TAG_ID_LIST,
        };
        w.write_ulong(tag);
        if ids.len() > 1 {
            w.write_length(ids.len())?;
        }
        for id in ids {
            self.write_id(w, id)?;
        }
        self.starts.push((start, sort));
        if chunked {
            self.level += 1;
        }
        Ok(chunked)
    }

    /// Writes a repository id, or an indirection to its first copy.
    fn write_id(&mut self, w: &mut CdrWriter<'_>, id: &str) -> Result<()> {
        w.align(4);
        if let Some(&first) = self.strings.get(id) {
            w.write_ulong(INDIRECTION);
            w.write_long(offset_to(first, w.written())?);
            return Ok(());
        }
        self.strings.insert(id.to_owned(), w.written());
        w.write_string(id)
    }

    /// After a value's state: ends a chunked value's last chunk and writes
    /// its end tag.
    pub(crate) fn end_value(&mut self, w: &mut CdrWriter<'_>, chunked: bool) -> Result<()> {
        if !chunked {
            return Ok(());
        }
        self.close_chunk(w)?;
        let level = i32::try_from(self.level).map_err(|_| Error::DepthLimitExceeded(0))?;
        w.align(4);
        w.write_long(-level);
        self.level -= 1;
        Ok(())
    }
}

/// The offset from `here` (the offset field's position) back to `target`.
fn offset_to(target: usize, here: usize) -> Result<i32> {
    let offset = i64::try_from(target).unwrap_or(i64::MAX) - i64::try_from(here).unwrap_or(0);
    i32::try_from(offset).map_err(|_| Error::LengthOverflow(here))
}
