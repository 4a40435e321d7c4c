use super::*;

#[test]
fn finds_tool_calls_and_lists_in_single_messages_and_batches() {
    let called = |body: &[u8]| read(body).map(|r| r.called);
    let one = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"deploy"}}"#;
    assert_eq!(called(one).unwrap(), ["deploy"]);
    let batch = br#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"},
        {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"a"}},
        {"jsonrpc":"2.0","id":"x","method":"tools/list"},
        {"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"b"}}]"#;
    let r = read(batch).unwrap();
    assert_eq!(r.called, ["a", "b"]);
    assert_eq!(r.list_ids, [serde_json::json!(1), serde_json::json!("x")]);
    let list = read(br#"{"method":"tools/list"}"#).unwrap();
    assert!(list.called.is_empty());
    assert_eq!(list.list_ids, [Value::Null]);
    assert_eq!(read(b"not json").unwrap(), ToolRequests::default());
    assert!(called(br#"{"method":"tools/call","params":{"name":7}}"#).is_err());
    assert!(called(br#"{"method":"tools/call"}"#).is_err());
}

#[test]
fn needed_is_the_union_in_order() {
    let map = BTreeMap::from([
        (
            "deploy".to_owned(),
            vec!["mcp:write".to_owned(), "mcp:admin".to_owned()],
        ),
        ("read".to_owned(), vec!["mcp:read".to_owned()]),
    ]);
    let req = vec!["mcp:read".to_owned()];
    assert_eq!(
        needed(
            &req,
            &map,
            &["deploy".into(), "read".into(), "other".into()]
        ),
        ["mcp:read", "mcp:write", "mcp:admin"]
    );
    assert_eq!(needed(&req, &map, &[]), ["mcp:read"]);
}

#[test]
fn hidden_are_the_mapped_tools_a_scope_is_missing_for() {
    let map = BTreeMap::from([
        ("deploy".to_owned(), vec!["mcp:write".to_owned()]),
        (
            "nuke".to_owned(),
            vec!["mcp:write".to_owned(), "mcp:admin".to_owned()],
        ),
        ("read".to_owned(), vec!["mcp:read".to_owned()]),
    ]);
    let names = |held: &str| {
        let mut v: Vec<String> = hidden(&map, held).into_iter().collect();
        v.sort();
        v
    };
    assert_eq!(names("mcp:read"), ["deploy", "nuke"]);
    assert_eq!(names("mcp:read mcp:write"), ["nuke"]);
    assert!(names("mcp:admin mcp:read mcp:write").is_empty());
    // A scope is a whole token, never a prefix.
    assert_eq!(names("mcp:rea mcp:writer"), ["deploy", "nuke", "read"]);
}
