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
    assert_eq!(read(b"not json"), Err("the request body is not JSON"));
    assert_eq!(
        read(br#"{"method":"tools/call","params":{"name":"deploy"}} trailing"#),
        Err("the request body is not JSON")
    );
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

#[test]
fn a_key_twice_at_any_depth_is_refused() {
    let twice = "the request body has an object with a key twice";
    // Parsers differ on which "name" wins: refused rather than guessed.
    let body = br#"{"method":"tools/call","params":{"name":"echo","name":"deploy"}}"#;
    assert_eq!(read(body), Err(twice));
    let body = br#"{"method":"tools/list","method":"tools/call","params":{"name":"deploy"}}"#;
    assert_eq!(read(body), Err(twice));
    let body = br#"[{"id":1,"method":"tools/list"},{"id":2,"id":3,"method":"ping"}]"#;
    assert_eq!(read(body), Err(twice));
    let deep = br#"{"method":"tools/call","params":{"name":"a","arguments":{"x":{"y":1,"y":2}}}}"#;
    assert_eq!(read(deep), Err(twice));
    // The same key in sibling objects is fine; so are every JSON type and numbers of all kinds.
    let fine = br#"[{"id":1,"method":"tools/call","params":{"name":"a","arguments":{"n":-1,"f":1.5,"b":true,"z":null,"l":[1,"x"]}}},
        {"id":2,"method":"tools/call","params":{"name":"b"}}]"#;
    assert_eq!(read(fine).unwrap().called, ["a", "b"]);
}
