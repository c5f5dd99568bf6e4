//! The chunked transfer coding (RFC 9112 section 7.1) as a resumable decoder that hands out
//! body bytes as ranges of the caller's buffer, never copying them.
//!
//! ```text
//! chunked-body = *chunk last-chunk trailer-section CRLF
//! chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//! last-chunk   = 1*"0" [ chunk-ext ] CRLF
//! chunk-ext    = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//! ```
//! Extensions are checked for forbidden bytes and skipped; trailer fields are checked against
//! the field grammar and dropped. Both are bounded by named limits.

use core::fmt;
use core::ops::Range;

use crate::http1::chars;
use crate::limits::{CHUNK_EXTENSION_BYTES_MAX, CHUNK_SIZE_DIGITS_MAX, TRAILER_SECTION_BYTES_MAX};

/// Why a chunked body cannot be decoded. The connection must be closed after any of these: the
/// message boundary is lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChunkedError {
    /// A chunk size that is empty or not hexadecimal, or junk between size and extension.
    Size,
    /// A chunk size with more than `CHUNK_SIZE_DIGITS_MAX` digits.
    SizeTooLong,
    /// A control byte inside a chunk extension.
    Extension,
    /// A chunk extension longer than `CHUNK_EXTENSION_BYTES_MAX`.
    ExtensionTooLong,
    /// A CR not followed by LF, or a bare LF, where a line ends.
    LineEnding,
    /// Chunk data not followed by CRLF: the chunk held more bytes than its size said.
    DataTerminator,
    /// A trailer line that is not `field-name ":" field-value`.
    Trailer,
    /// A trailer section longer than `TRAILER_SECTION_BYTES_MAX`.
    TrailerTooLarge,
}

impl ChunkedError {
    pub const fn message(self) -> &'static str {
        match self {
            ChunkedError::Size => "invalid chunk size",
            ChunkedError::SizeTooLong => "chunk size has too many digits",
            ChunkedError::Extension => "invalid chunk extension",
            ChunkedError::ExtensionTooLong => "chunk extension too long",
            ChunkedError::LineEnding => "chunk lines must end in CRLF",
            ChunkedError::DataTerminator => "chunk data longer than its size",
            ChunkedError::Trailer => "invalid trailer field",
            ChunkedError::TrailerTooLarge => "trailer section too large",
        }
    }
}

impl fmt::Display for ChunkedError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.message())
    }
}

impl std::error::Error for ChunkedError {}

/// What one call to [`ChunkedDecoder::decode`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Bytes of the input used up. The caller drops them and calls again with the rest.
    pub consumed: usize,
    /// Body bytes, as a range of the input (empty when this call found none). Always ends at
    /// or before `consumed`.
    pub data: Range<usize>,
    /// True when the body ended: the last chunk, the trailers and the final CRLF were read, and
    /// whatever follows `consumed` belongs to the next request.
    pub done: bool,
}

/// Where the decoder stands in the grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading hexadecimal digits of a chunk size.
    Size,
    /// After the size: BWS, then `;` or CR.
    SizeWhitespace,
    /// Inside a chunk extension, up to CR.
    Extension,
    /// After the CR of a chunk header.
    SizeLineFeed,
    /// Inside chunk data.
    Data,
    /// After chunk data: CR expected.
    DataCarriageReturn,
    /// After chunk data and CR: LF expected.
    DataLineFeed,
    /// At the start of a trailer line, or of the final CRLF.
    TrailerLineStart,
    /// Inside a trailer field name.
    TrailerName,
    /// Inside a trailer field value, up to CR.
    TrailerValue,
    /// After the CR of a trailer line.
    TrailerLineFeed,
    /// After the CR of the final empty line.
    FinalLineFeed,
    /// The body ended.
    Done,
}

/// A resumable decoder of one chunked body. Feed it the bytes after the request head.
#[derive(Clone, Debug)]
pub struct ChunkedDecoder {
    state: State,
    /// Size of the current chunk while its header is read; bytes still to come while in data.
    chunk_bytes: u64,
    size_digits: usize,
    extension_bytes: usize,
    trailer_bytes: usize,
    body_bytes: u64,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder::new()
    }
}

impl ChunkedDecoder {
    pub const fn new() -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::Size,
            chunk_bytes: 0,
            size_digits: 0,
            extension_bytes: 0,
            trailer_bytes: 0,
            body_bytes: 0,
        }
    }

    /// Body bytes handed out so far; the server compares it with its upload limit.
    pub fn body_bytes(&self) -> u64 {
        self.body_bytes
    }

    /// True once the final CRLF was read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes from `input` until it reaches body bytes (returned as a range), runs out of
    /// input, or reaches the end of the body. Each call returns at most one run of data, so a
    /// caller loops: `decode`, use `data`, drop `consumed` bytes, repeat.
    #[inline]
    pub fn decode(&mut self, input: &[u8]) -> Result<Decoded, ChunkedError> {
        let mut position = 0;
        // Every iteration consumes at least one byte or returns, so this loop is bounded by
        // the input length.
        while position < input.len() {
            if self.state == State::Data {
                let available = (input.len() - position) as u64;
                let take = self.chunk_bytes.min(available) as usize;
                assert!(take > 0, "a chunk in the data state has bytes left");
                self.chunk_bytes -= take as u64;
                self.body_bytes += take as u64;
                if self.chunk_bytes == 0 {
                    self.state = State::DataCarriageReturn;
                }
                let data = position..position + take;
                return Ok(Decoded {
                    consumed: data.end,
                    data,
                    done: false,
                });
            }
            if self.state == State::Done {
                break;
            }
            if let Some(used) = self.chunk_boundary_fast(&input[position..]) {
                position += used;
                continue;
            }
            self.step(input[position])?;
            position += 1;
        }
        Ok(Decoded {
            consumed: position,
            data: position..position,
            done: self.is_done(),
        })
    }

    /// The common chunk boundary in one step: the CRLF after chunk data (when due) and a
    /// complete `1*HEXDIG CRLF` header without extension, both whole in `input`. Returns the
    /// bytes used, or `None` to leave anything else (split input, extensions, errors) to
    /// [`ChunkedDecoder::step`], which gives the same result byte by byte.
    #[inline]
    fn chunk_boundary_fast(&mut self, input: &[u8]) -> Option<usize> {
        let mut used = 0;
        if self.state == State::DataCarriageReturn {
            if !input.starts_with(b"\r\n") {
                return None;
            }
            used = 2;
        } else if self.state != State::Size || self.size_digits != 0 {
            return None;
        }
        let header = &input[used..];
        let mut size = 0u64;
        let mut digits = 0;
        for &byte in header.iter().take(CHUNK_SIZE_DIGITS_MAX) {
            let Some(digit) = chars::hex_value(byte) else {
                break;
            };
            size = (size << 4) | u64::from(digit);
            digits += 1;
        }
        if digits == 0 || header.get(digits..digits + 2) != Some(b"\r\n") {
            // Commit the data CRLF alone, so the byte machine resumes at the size.
            if used == 2 {
                self.start_chunk_header();
                return Some(used);
            }
            return None;
        }
        self.start_chunk_header();
        self.chunk_bytes = size;
        self.state = if size == 0 {
            State::TrailerLineStart
        } else {
            State::Data
        };
        Some(used + digits + 2)
    }

    /// Resets the per-header counters: the next byte is the first digit of a chunk size.
    fn start_chunk_header(&mut self) {
        self.state = State::Size;
        self.chunk_bytes = 0;
        self.size_digits = 0;
        self.extension_bytes = 0;
    }

    /// Advances the grammar by one framing byte (anything but chunk data).
    fn step(&mut self, byte: u8) -> Result<(), ChunkedError> {
        self.state = match self.state {
            State::Size => match chars::hex_value(byte) {
                Some(digit) => {
                    self.size_digits += 1;
                    if self.size_digits > CHUNK_SIZE_DIGITS_MAX {
                        return Err(ChunkedError::SizeTooLong);
                    }
                    // Sixteen hex digits fill a u64 exactly: the shift cannot lose bits.
                    self.chunk_bytes = (self.chunk_bytes << 4) | u64::from(digit);
                    State::Size
                }
                None if self.size_digits == 0 => return Err(ChunkedError::Size),
                None => self.after_size(byte)?,
            },
            State::SizeWhitespace => self.after_size(byte)?,
            State::Extension => match byte {
                b'\r' => State::SizeLineFeed,
                _ if chars::is_field_value(byte) => {
                    self.count_extension_byte()?;
                    State::Extension
                }
                _ => return Err(ChunkedError::Extension),
            },
            State::SizeLineFeed => match byte {
                b'\n' if self.chunk_bytes == 0 => State::TrailerLineStart,
                b'\n' => State::Data,
                _ => return Err(ChunkedError::LineEnding),
            },
            State::Data | State::Done => unreachable!("handled by decode"),
            State::DataCarriageReturn => match byte {
                b'\r' => State::DataLineFeed,
                _ => return Err(ChunkedError::DataTerminator),
            },
            State::DataLineFeed => match byte {
                b'\n' => {
                    self.start_chunk_header();
                    State::Size
                }
                _ => return Err(ChunkedError::LineEnding),
            },
            State::TrailerLineStart => {
                self.count_trailer_byte()?;
                match byte {
                    b'\r' => State::FinalLineFeed,
                    _ if chars::is_token(byte) => State::TrailerName,
                    _ => return Err(ChunkedError::Trailer),
                }
            }
            State::TrailerName => {
                self.count_trailer_byte()?;
                match byte {
                    b':' => State::TrailerValue,
                    _ if chars::is_token(byte) => State::TrailerName,
                    _ => return Err(ChunkedError::Trailer),
                }
            }
            State::TrailerValue => {
                self.count_trailer_byte()?;
                match byte {
                    b'\r' => State::TrailerLineFeed,
                    _ if chars::is_field_value(byte) => State::TrailerValue,
                    _ => return Err(ChunkedError::Trailer),
                }
            }
            State::TrailerLineFeed => {
                self.count_trailer_byte()?;
                match byte {
                    b'\n' => State::TrailerLineStart,
                    _ => return Err(ChunkedError::LineEnding),
                }
            }
            // The final CRLF belongs to the trailer section: its LF counts like its CR did.
            State::FinalLineFeed => {
                self.count_trailer_byte()?;
                match byte {
                    b'\n' => State::Done,
                    _ => return Err(ChunkedError::LineEnding),
                }
            }
        };
        Ok(())
    }

    /// The byte after a chunk size's digits: BWS, the start of an extension, or CR.
    fn after_size(&mut self, byte: u8) -> Result<State, ChunkedError> {
        match byte {
            // BWS is counted with the extension so whitespace cannot run forever either.
            b' ' | b'\t' => {
                self.count_extension_byte()?;
                Ok(State::SizeWhitespace)
            }
            b';' => {
                self.count_extension_byte()?;
                Ok(State::Extension)
            }
            b'\r' => Ok(State::SizeLineFeed),
            b'\n' => Err(ChunkedError::LineEnding),
            _ => Err(ChunkedError::Size),
        }
    }

    /// Everything between the size digits and CR counts toward the extension limit.
    fn count_extension_byte(&mut self) -> Result<(), ChunkedError> {
        self.extension_bytes += 1;
        if self.extension_bytes > CHUNK_EXTENSION_BYTES_MAX {
            return Err(ChunkedError::ExtensionTooLong);
        }
        Ok(())
    }

    fn count_trailer_byte(&mut self) -> Result<(), ChunkedError> {
        self.trailer_bytes += 1;
        if self.trailer_bytes > TRAILER_SECTION_BYTES_MAX {
            return Err(ChunkedError::TrailerTooLarge);
        }
        Ok(())
    }
}
