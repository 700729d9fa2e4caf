//! Tests of the catalog log.
#![allow(clippy::unwrap_used)]
use super::*;
use crate::catalog::Column;
use kql_types::KqlType;

fn extent(id: &str, rows: u64) -> Arc<ExtentMeta> {
    ExtentMeta {
        id: id.into(),
        path: format!("data/d/t/{id}.parquet"),
        rows,
        ..Default::default()
    }
    .into()
}

fn base() -> Catalog {
    let mut c = Catalog::initial();
    let db = c.ensure_database("db", true);
    let mut t = Table::new("T", vec![Column::new("a", KqlType::Long)]);
    t.extents = vec![extent("e1", 1), extent("e2", 2)];
    db.tables.insert("T".into(), t.into());
    db.tables.insert(
        "U".into(),
        Table::new("U", vec![Column::new("b", KqlType::String)]).into(),
    );
    c
}

/// `diff` then `apply` gives the new catalog.
fn round_trip(old: &Catalog, new: &Catalog) -> Vec<Change> {
    let changes = diff(old, new);
    let mut applied = old.clone();
    apply(&mut applied, changes.clone()).expect("apply");
    assert_eq!(&applied, new, "changes: {changes:#?}");
    changes
}

#[test]
fn an_append_is_one_extent() {
    let old = base();
    let mut new = old.clone();
    new.table_mut("db", "T")
        .unwrap()
        .extents
        .push(extent("e3", 3));
    let changes = round_trip(&old, &new);
    assert_eq!(
        changes,
        vec![Change::Extents {
            database: "db".into(),
            table: "T".into(),
            remove: vec![],
            add: vec![extent("e3", 3)],
        }]
    );
}

#[test]
fn no_change_is_no_record() {
    let b = base();
    assert!(diff(&b, &b.clone()).is_empty());
}

#[test]
fn every_kind_of_change_round_trips() {
    let old = base();
    let mut new = old.clone();
    // a replace of all extents, a changed extent, a rename, a new column
    new.table_mut("db", "T").unwrap().extents = vec![extent("e9", 9)];
    let u = new.database_mut("db").unwrap().tables.remove("U").unwrap();
    let mut u2 = Arc::unwrap_or_clone(u);
    u2.name = "U2".into();
    u2.columns.push(Column::new("c", KqlType::Real));
    u2.extents.push(extent("u1", 4));
    new.database_mut("db")
        .unwrap()
        .tables
        .insert("U2".into(), u2.into());
    new.ensure_database("other", false).pretty_name = Some("x".into());
    new.database_mut("db")
        .unwrap()
        .policies
        .insert("p".into(), serde_json::json!(1));
    new.cluster_roles.push(RoleAssignment {
        role: "AllDatabasesAdmin".into(),
        ..Default::default()
    });
    new.record(JournalEntry {
        event: "CREATE-TABLE".into(),
        ..Default::default()
    });
    round_trip(&old, &new);
    // and back
    round_trip(&new, &old);
    // drops
    let mut dropped = new.clone();
    dropped.databases.remove("other");
    dropped.database_mut("db").unwrap().tables.remove("T");
    round_trip(&new, &dropped);
}

#[test]
fn reordered_or_changed_extents_round_trip() {
    let old = base();
    let mut new = old.clone();
    new.table_mut("db", "T").unwrap().extents.reverse();
    round_trip(&old, &new);
    let mut changed = old.clone();
    Arc::make_mut(&mut changed.table_mut("db", "T").unwrap().extents[0]).tags =
        vec!["drop-by:x".into()];
    let changes = round_trip(&old, &changed);
    assert_eq!(changes.len(), 1);
    // a table replaced by another of the same name (new id)
    let mut other = old.clone();
    other
        .database_mut("db")
        .unwrap()
        .tables
        .insert("T".into(), Table::new("T", vec![]).into());
    round_trip(&old, &other);
}

#[test]
fn the_journal_is_appended_to_even_past_its_limit() {
    let mut old = base();
    for i in 0..JOURNAL_LIMIT {
        old.record(JournalEntry {
            event: format!("E{i}"),
            timestamp: "t".into(),
            ..Default::default()
        });
    }
    let mut new = old.clone();
    new.record(JournalEntry {
        event: "last".into(),
        timestamp: "t".into(),
        ..Default::default()
    });
    let changes = round_trip(&old, &new);
    assert!(
        matches!(&changes[..], [Change::Journal { entries, replace: false }] if entries.len() == 1)
    );
}

#[test]
fn frames_detect_truncation_and_damage() {
    let bytes = frame("record", b"{\"a\":1}");
    assert_eq!(unframe("record", &bytes), Some(&b"{\"a\":1}"[..]));
    assert_eq!(unframe("checkpoint", &bytes), None);
    assert_eq!(unframe("record", &bytes[..bytes.len() - 1]), None);
    let mut damaged = bytes.clone();
    let last = damaged.len() - 2;
    damaged[last] = b'2';
    assert_eq!(unframe("record", &damaged), None);
    assert_eq!(unframe("record", b""), None);
    assert_eq!(
        version_of(&record_path(42)),
        Some(42),
        "{}",
        record_path(42)
    );
    assert_eq!(version_of(&checkpoint_path(7)), Some(7));
}
