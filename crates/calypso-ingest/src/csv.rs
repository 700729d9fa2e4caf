//! The CSV family: `csv`, `tsv`, `tsve`, `scsv`, `psv`, `sohsv` (RFC 4180 records with
//! a format's separator) and `txt` (one value per line).
//!
//! * Fields may be quoted with `"`; a quoted field may hold separators, line breaks and
//!   quotes written `""`. A quote inside an unquoted field is an ordinary character.
//! * Records end with `\n` or `\r\n`; the last one needs no line break; empty lines at
//!   the end of the data are ignored. There is no header row.
//! * `tsve` reads backslash escapes (`\t`, `\n`, `\r`, `\\`) in every field; any other
//!   backslash is an ordinary character.
//! * Every record must have as many fields as the table has columns
//!   (`Stream_WrongNumberOfFields`); a quoted field must be closed
//!   (`Stream_ClosingQuoteMissing`) and be followed by a separator or a line break
//!   (`BadRequest_UnexpectedCharacterInInputStream`).
//! * With `ignoreFirstRecord`, the first record (a header) is read but not ingested,
//!   and not checked; record numbers still count it.
//! * `raw`: the whole text is one record whose only field is the first column's value.

use crate::apply::{self, Plan};
use crate::columns::Batcher;
use crate::{IngestError, codes};

/// The separator of a format and whether it reads backslash escapes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dialect {
    sep: u8,
    escapes: bool,
    /// Records may have any number of fields (`validationPolicy` `DoNotValidate`): missing
    /// fields are missing values, extra ones are dropped.
    lenient: bool,
}

impl Dialect {
    pub(crate) fn new(sep: u8, escapes: bool) -> Dialect {
        Dialect {
            sep,
            escapes,
            lenient: false,
        }
    }

    /// The dialect without the field count check.
    pub(crate) fn lenient(self, lenient: bool) -> Dialect {
        Dialect { lenient, ..self }
    }
}

/// A field's text: a range of the input, or of the record's scratch buffer (for fields
/// whose text differs from their input: doubled quotes, escapes).
#[derive(Debug, Clone, Copy)]
enum Span {
    Input(usize, usize),
    Scratch(usize, usize),
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    d: Dialect,
    /// Bytes that end or interrupt an unquoted field: separator, line feed, backslash
    /// with escapes.
    stop_unquoted: [bool; 256],
    /// Bytes that interrupt a quoted field: quote, backslash with escapes.
    stop_quoted: [bool; 256],
    /// Unescaped text of the current record's fields.
    scratch: String,
    /// Fields of the current record.
    spans: Vec<Span>,
    /// The 1-based number of the current record.
    record: u64,
}

/// Reads delimiter-separated records into `out`: one field per column by ordinal, or as
/// the mapping `plan` says (one entry per column); without the first record when
/// `skip_first`.
pub(crate) fn read(
    text: &str,
    d: Dialect,
    out: &mut Batcher,
    plan: Option<&Plan>,
    skip_first: bool,
) -> Result<(), IngestError> {
    // Empty lines at the end are no records.
    let text = text.trim_end_matches(['\r', '\n']);
    if text.is_empty() {
        return Ok(());
    }
    let mut r = Reader {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        d,
        stop_unquoted: stops(&[d.sep, b'\n'], d.escapes),
        stop_quoted: stops(b"\"", d.escapes),
        scratch: String::new(),
        spans: Vec::with_capacity(out.width()),
        record: 0,
    };
    // With a mapping, records need as many fields as the first one ingested has.
    let mut width = out.width();
    let first = if skip_first { 2 } else { 1 };
    loop {
        r.record += 1;
        let more = r.record_fields()?;
        if r.record < first {
            if !more {
                return Ok(());
            }
            continue;
        }
        if let Some(plan) = plan {
            if r.record == first {
                width = r.spans.len();
            }
            if r.spans.len() != width && !d.lenient {
                return Err(IngestError::at_record(
                    codes::WRONG_NUMBER_OF_FIELDS,
                    r.record,
                    format!(
                        "Record {} has {} fields, the first record ingested has {}",
                        r.record,
                        r.spans.len(),
                        width
                    ),
                ));
            }
            apply::push_csv_row(out, plan, |k| r.field(k), r.record);
            out.end_row()?;
            if !more {
                return Ok(());
            }
            continue;
        }
        if r.spans.len() != width && !d.lenient {
            return Err(IngestError::at_record(
                codes::WRONG_NUMBER_OF_FIELDS,
                r.record,
                format!(
                    "Record {} has {} fields, expected {}",
                    r.record,
                    r.spans.len(),
                    width
                ),
            ));
        }
        for i in 0..width {
            match r.field(i) {
                Some(text) if i < r.spans.len() => out.push_text(i, text),
                _ => out.push_null(i),
            }
        }
        out.end_row()?;
        if !more {
            return Ok(());
        }
    }
}

/// Reads `txt`: every non-empty line is a record whose text is the first column's
/// value (the record's only field, ordinal 0, with a mapping); the other columns are
/// missing. Without the first record when `skip_first`.
pub(crate) fn read_lines(
    text: &str,
    out: &mut Batcher,
    plan: Option<&Plan>,
    skip_first: bool,
) -> Result<(), IngestError> {
    let mut record = 0u64;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        record += 1;
        if skip_first && record == 1 {
            continue;
        }
        push_single(out, plan, line, record)?;
    }
    Ok(())
}

/// Reads `raw`: the whole text (when not empty) is one record.
pub(crate) fn read_raw(
    text: &str,
    out: &mut Batcher,
    plan: Option<&Plan>,
) -> Result<(), IngestError> {
    if text.is_empty() {
        return Ok(());
    }
    push_single(out, plan, text, 1)
}

/// Appends a record of one field.
fn push_single(
    out: &mut Batcher,
    plan: Option<&Plan>,
    value: &str,
    record: u64,
) -> Result<(), IngestError> {
    match plan {
        Some(plan) => apply::push_csv_row(out, plan, |k| (k == 0).then_some(value), record),
        None => {
            out.push_text(0, value);
            for i in 1..out.width() {
                out.push_null(i);
            }
        }
    }
    out.end_row()
}

/// A byte table marking `bytes`, and the backslash when `escapes`.
fn stops(bytes: &[u8], escapes: bool) -> [bool; 256] {
    let mut t = [false; 256];
    for &b in bytes {
        t[usize::from(b)] = true;
    }
    if escapes {
        t[usize::from(b'\\')] = true;
    }
    t
}

impl<'a> Reader<'a> {
    /// The text of field `k` of the current record.
    fn field(&self, k: usize) -> Option<&str> {
        match *self.spans.get(k)? {
            Span::Input(a, b) => self.text.get(a..b),
            Span::Scratch(a, b) => self.scratch.get(a..b),
        }
    }

    /// Reads the fields of one record into `spans`; returns whether more records follow.
    fn record_fields(&mut self) -> Result<bool, IngestError> {
        self.spans.clear();
        self.scratch.clear();
        loop {
            let span = if self.bytes.get(self.pos) == Some(&b'"') {
                self.quoted()?
            } else {
                self.unquoted()
            };
            self.spans.push(span);
            match self.bytes.get(self.pos) {
                None => return Ok(false),
                Some(&b) if b == self.d.sep => self.pos += 1,
                Some(b'\r') => {
                    // Only after a closing quote, and then followed by '\n'.
                    self.pos += 1;
                    if self.bytes.get(self.pos) == Some(&b'\n') {
                        self.pos += 1;
                    }
                    return Ok(self.pos < self.bytes.len());
                }
                Some(_) => {
                    // '\n'
                    self.pos += 1;
                    return Ok(self.pos < self.bytes.len());
                }
            }
        }
    }

    /// Position of the first byte from `self.pos` that ends an unquoted field or needs
    /// handling (separator, line feed, backslash with escapes); the end of the text if
    /// there is none.
    fn scan_unquoted(&self) -> usize {
        let rest = self.bytes.get(self.pos..).unwrap_or(&[]);
        let n = rest
            .iter()
            .position(|&b| self.stop_unquoted[usize::from(b)])
            .unwrap_or(rest.len());
        self.pos + n
    }

    /// Appends the escape at `self.pos` (a backslash) to the scratch buffer and moves
    /// past it: `\t`, `\n`, `\r`, `\\` are one character; another backslash is itself.
    fn escape(&mut self) {
        let c = match self.bytes.get(self.pos + 1) {
            Some(b't') => '\t',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b'\\') => '\\',
            _ => {
                self.scratch.push('\\');
                self.pos += 1;
                return;
            }
        };
        self.scratch.push(c);
        self.pos += 2;
    }

    fn push_scratch(&mut self, a: usize, b: usize) {
        self.scratch.push_str(self.text.get(a..b).unwrap_or(""));
    }

    fn unquoted(&mut self) -> Span {
        let start = self.pos;
        let mut seg = start;
        let mut copied = None;
        loop {
            self.pos = self.scan_unquoted();
            if self.d.escapes && self.bytes.get(self.pos) == Some(&b'\\') {
                if copied.is_none() {
                    copied = Some(self.scratch.len());
                }
                self.push_scratch(seg, self.pos);
                self.escape();
                seg = self.pos;
                continue;
            }
            break;
        }
        let mut end = self.pos;
        // The '\r' of a "\r\n" line break (a field ending at a separator keeps it).
        if end > seg
            && self.bytes.get(end - 1) == Some(&b'\r')
            && matches!(self.bytes.get(self.pos), None | Some(b'\n'))
        {
            end -= 1;
        }
        match copied {
            None => Span::Input(start, end),
            Some(from) => {
                self.push_scratch(seg, end);
                Span::Scratch(from, self.scratch.len())
            }
        }
    }

    fn quoted(&mut self) -> Result<Span, IngestError> {
        self.pos += 1;
        let start = self.pos;
        let mut seg = start;
        let mut copied: Option<usize> = None;
        loop {
            let rest = self.bytes.get(self.pos..).unwrap_or(&[]);
            let Some(n) = rest.iter().position(|&b| self.stop_quoted[usize::from(b)]) else {
                return Err(IngestError::at_record(
                    codes::CLOSING_QUOTE_MISSING,
                    self.record,
                    format!(
                        "Record {}: a quoted field starting at byte {} has no closing quote",
                        self.record,
                        start - 1
                    ),
                ));
            };
            self.pos += n;
            if self.bytes.get(self.pos) == Some(&b'\\') {
                if copied.is_none() {
                    copied = Some(self.scratch.len());
                }
                self.push_scratch(seg, self.pos);
                self.escape();
                seg = self.pos;
                continue;
            }
            if self.bytes.get(self.pos + 1) == Some(&b'"') {
                // A doubled quote is one quote.
                if copied.is_none() {
                    copied = Some(self.scratch.len());
                }
                self.push_scratch(seg, self.pos + 1);
                self.pos += 2;
                seg = self.pos;
                continue;
            }
            break;
        }
        let span = match copied {
            None => Span::Input(start, self.pos),
            Some(from) => {
                self.push_scratch(seg, self.pos);
                Span::Scratch(from, self.scratch.len())
            }
        };
        self.pos += 1;
        let ok = match self.bytes.get(self.pos) {
            None | Some(b'\n') => true,
            Some(b'\r') => matches!(self.bytes.get(self.pos + 1), None | Some(b'\n')),
            Some(&b) => b == self.d.sep,
        };
        if !ok {
            return Err(IngestError::at_record(
                codes::UNEXPECTED_CHARACTER,
                self.record,
                format!(
                    "Record {}: unexpected character after the closing quote at byte {}",
                    self.record, self.pos
                ),
            ));
        }
        Ok(span)
    }
}
