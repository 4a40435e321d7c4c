use super::*;

#[test]
fn formula_cells_are_defused_and_others_kept() {
    assert_eq!(defuse("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
    assert_eq!(defuse("@SUM(A1)"), "'@SUM(A1)");
    assert_eq!(defuse("-1+2"), "'-1+2");
    assert_eq!(defuse("+1"), "'+1");
    assert_eq!(defuse("\tx"), "'\tx");
    assert_eq!(defuse("login_failed"), "login_failed");
    assert_eq!(defuse("{\"reason\":\"x\"}"), "{\"reason\":\"x\"}");
    assert_eq!(defuse(""), "");
}
