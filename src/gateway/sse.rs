//! A `text/event-stream` body cut into its events as raw bytes (WHATWG HTML, "Server-sent
//! events", event stream interpretation: lines end in CRLF, LF or CR; a blank line ends an
//! event), so that the gateway can rewrite the `data` of one event and pass every other byte
//! through unchanged.
//!
//! Written by hand rather than with an SSE crate: the parsers on crates.io (eventsource-stream,
//! sse-stream) hand back parsed fields, not the raw event, so the comments, field order and line
//! endings of the events the gateway leaves alone would change on the way through; here only a
//! rewritten event is serialised again.

/// Bytes of a stream, handed back one whole event at a time.
#[derive(Debug, Default)]
pub struct Events {
    buf: Vec<u8>,
    /// Where the line not yet scanned starts in `buf` (so no byte is scanned twice).
    line: usize,
}

impl Events {
    /// Appends the next chunk of the stream.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// Bytes held that are not yet part of a whole event.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// The next whole event, its closing blank line included.
    pub fn next_event(&mut self) -> Option<Vec<u8>> {
        loop {
            let rest = self.buf.get(self.line..)?;
            let at = rest.iter().position(|&b| b == b'\n' || b == b'\r')?;
            let end = match (rest[at], rest.get(at + 1)) {
                (b'\r', Some(b'\n')) => at + 2,
                // A CR last in the buffer may be the first half of a CRLF: wait for more.
                (b'\r', None) => return None,
                _ => at + 1,
            };
            self.line += end;
            if at == 0 {
                let event = self.buf.drain(..self.line).collect();
                self.line = 0;
                return Some(event);
            }
        }
    }

    /// What is left at the end of the stream: an event without its closing blank line.
    pub fn rest(&mut self) -> Vec<u8> {
        self.line = 0;
        std::mem::take(&mut self.buf)
    }
}

/// The lines of `event`, without their line endings; a trailing blank line yields nothing.
fn lines(event: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = event;
    while !rest.is_empty() {
        let at = rest
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .unwrap_or(rest.len());
        out.push(&rest[..at]);
        let skip = match (rest.get(at), rest.get(at + 1)) {
            (Some(b'\r'), Some(b'\n')) => 2,
            (Some(_), _) => 1,
            (None, _) => 0,
        };
        rest = &rest[at + skip..];
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out
}

/// A field line split into its name and value (one leading space of the value dropped);
/// `None` for a comment.
fn field(line: &[u8]) -> Option<(&[u8], &[u8])> {
    if line.first() == Some(&b':') {
        return None;
    }
    Some(match line.iter().position(|&b| b == b':') {
        Some(colon) => {
            let value = &line[colon + 1..];
            (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
        }
        None => (line, &[][..]),
    })
}

/// The event's data: its `data` fields joined with LF. `None` when it has no `data` field.
#[must_use]
pub fn data(event: &[u8]) -> Option<Vec<u8>> {
    let parts: Vec<&[u8]> = lines(event)
        .into_iter()
        .filter_map(field)
        .filter(|(name, _)| *name == b"data")
        .map(|(_, value)| value)
        .collect();
    (!parts.is_empty()).then(|| parts.join(&b'\n'))
}

/// `event` with its data replaced by `new_data` (one `data:` line per line of it, where the
/// first `data` field was), every other field and comment kept in order, lines ending in LF.
#[must_use]
pub fn with_data(event: &[u8], new_data: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(event.len() + new_data.len());
    let mut written = false;
    for line in lines(event) {
        if field(line).is_some_and(|(name, _)| name == b"data") {
            if !written {
                for part in new_data.split('\n') {
                    out.extend_from_slice(b"data: ");
                    out.extend_from_slice(part.as_bytes());
                    out.push(b'\n');
                }
                written = true;
            }
            continue;
        }
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.push(b'\n');
    out
}

#[cfg(test)]
#[path = "sse_tests.rs"]
mod tests;
