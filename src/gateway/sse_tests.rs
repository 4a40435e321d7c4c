use super::*;

fn all(chunks: &[&[u8]]) -> (Vec<Vec<u8>>, Vec<u8>) {
    let mut events = Events::default();
    let mut out = Vec::new();
    for c in chunks {
        events.push(c);
        while let Some(e) = events.next_event() {
            out.push(e);
        }
    }
    (out, events.rest())
}

#[test]
fn events_split_on_blank_lines_with_every_line_ending_and_any_chunking() {
    let stream: &[u8] =
        b"id: 1\ndata: a\n\n: comment\r\ndata: b\r\n\r\nretry: 5\rdata: c\r\rdata: tail";
    let expected: Vec<&[u8]> = vec![
        b"id: 1\ndata: a\n\n",
        b": comment\r\ndata: b\r\n\r\n",
        b"retry: 5\rdata: c\r\r",
    ];
    let (events, rest) = all(&[stream]);
    assert_eq!(events, expected);
    assert_eq!(rest, b"data: tail");
    // Byte by byte: a CR at the end of a chunk waits for a possible LF.
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    let (events, rest) = all(&bytes);
    assert_eq!(events, expected);
    assert_eq!(rest, b"data: tail");
    // Nothing is lost or reordered: the events and the rest are the stream.
    let (events, rest) = all(&stream.chunks(7).collect::<Vec<_>>());
    assert_eq!([events.concat(), rest].concat(), stream);
}

#[test]
fn data_joins_data_fields_and_ignores_the_rest() {
    assert_eq!(
        data(b"id: 1\ndata: {\"a\":\ndata:1}\n\n").unwrap(),
        b"{\"a\":\n1}"
    );
    assert_eq!(data(b"data\n\n").unwrap(), b"");
    assert_eq!(data(b"data:  two spaces\n").unwrap(), b" two spaces");
    assert_eq!(data(b": data: no\nevent: x\n\n"), None);
    assert_eq!(data(b"id: 3\r\ndata: x\r\n\r\n").unwrap(), b"x");
}

#[test]
fn with_data_replaces_only_the_data_in_place() {
    let event = b": keep\r\nid: 7\r\ndata: old1\r\nevent: message\r\ndata: old2\r\n\r\n";
    assert_eq!(
        with_data(event, "new"),
        b": keep\nid: 7\ndata: new\nevent: message\n\n".to_vec()
    );
    assert_eq!(
        with_data(b"data: x", "a\nb"),
        b"data: a\ndata: b\n\n".to_vec()
    );
}
