//! Commits of several writers of one store: serialised per table, not globally.
//!
//! Every writer appends the next log record with a conditional create
//! (`PutMode::Create`), so two writers can never both write version N. The one that loses
//! does not fail for that alone: it reads what the winner committed and, when the two
//! commits touched different entities, writes its own changes again on top of the
//! winner's, as the next version. Only commits that touch the same table (or the same
//! database's own fields, the database itself, or the cluster's roles and policies) are
//! ordered against each other, and then the later one fails with
//! [`crate::Error::Conflict`] (`BadRequest_ConcurrentModification`, 409), as the caller
//! decided on a state that is gone.
//!
//! What a commit touches is read off its changes ([`crate::log::Change`]): a table's
//! fields or extents touch that table; a database's own fields, or creating or dropping
//! it, touch the database and so every table in it; appending to the journal touches
//! nothing (appends of two writers are kept, in the order the records are written),
//! rewriting it touches the journal.

use std::collections::BTreeSet;

use crate::log::Change;

/// An entity a commit changed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Entity {
    Cluster,
    /// The journal rewritten.
    Journal,
    /// Entries appended to the journal.
    JournalAppend,
    Database(String),
    Table(String, String),
}

impl Entity {
    fn overlaps(&self, other: &Entity) -> bool {
        match (self, other) {
            (Entity::Database(d), Entity::Table(e, _))
            | (Entity::Table(e, _), Entity::Database(d)) => d == e,
            (Entity::Journal, Entity::JournalAppend) | (Entity::JournalAppend, Entity::Journal) => {
                true
            }
            (Entity::JournalAppend, Entity::JournalAppend) => false,
            _ => self == other,
        }
    }

    fn describe(&self) -> String {
        match self {
            Entity::Cluster => "the cluster's roles and policies".into(),
            Entity::Journal | Entity::JournalAppend => "the journal".into(),
            Entity::Database(d) => format!("database '{d}'"),
            Entity::Table(d, t) => format!("table '{t}' of database '{d}'"),
        }
    }
}

/// What `changes` touch.
fn touched(changes: &[Change]) -> BTreeSet<Entity> {
    let mut out = BTreeSet::new();
    for change in changes {
        match change {
            Change::Cluster { .. } => {
                out.insert(Entity::Cluster);
            }
            Change::Journal { replace, .. } => {
                out.insert(if *replace {
                    Entity::Journal
                } else {
                    Entity::JournalAppend
                });
            }
            Change::PutDatabase { database } => {
                out.insert(Entity::Database(database.name.clone()));
            }
            Change::DropDatabase { name } => {
                out.insert(Entity::Database(name.clone()));
            }
            Change::PutTable { database, table } => {
                out.insert(Entity::Table(database.clone(), table.name.clone()));
            }
            Change::DropTable { database, name } => {
                out.insert(Entity::Table(database.clone(), name.clone()));
            }
            Change::Extents {
                database, table, ..
            } => {
                out.insert(Entity::Table(database.clone(), table.clone()));
            }
        }
    }
    out
}

/// The first entity both `ours` and `theirs` (changes of two commits made on the same
/// version) touch, described; `None` when `ours` may be applied after `theirs`.
pub(crate) fn conflict(ours: &[Change], theirs: &[Change]) -> Option<String> {
    let theirs = touched(theirs);
    touched(ours)
        .into_iter()
        .find(|e| theirs.iter().any(|t| t.overlaps(e)))
        .map(|e| e.describe())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::catalog::{Database, ExtentMeta, JournalEntry, Table};

    fn extents(db: &str, table: &str) -> Change {
        Change::Extents {
            database: db.into(),
            table: table.into(),
            remove: Vec::new(),
            add: vec![Arc::new(ExtentMeta::default())],
        }
    }

    fn journal(replace: bool) -> Change {
        Change::Journal {
            entries: vec![JournalEntry::default()],
            replace,
        }
    }

    #[test]
    fn commits_on_different_tables_do_not_conflict() {
        assert_eq!(
            conflict(&[extents("db", "A"), journal(false)], &[extents("db", "B")]),
            None
        );
        assert_eq!(
            conflict(&[extents("db", "A")], &[extents("other", "A")]),
            None
        );
        // Appends to the journal commute.
        assert_eq!(conflict(&[journal(false)], &[journal(false)]), None);
    }

    #[test]
    fn commits_on_one_table_or_its_database_conflict() {
        assert_eq!(
            conflict(&[extents("db", "A")], &[extents("db", "A")]).as_deref(),
            Some("table 'A' of database 'db'")
        );
        let drop_table = Change::DropTable {
            database: "db".into(),
            name: "A".into(),
        };
        assert!(conflict(&[extents("db", "A")], &[drop_table]).is_some());
        let put_db = Change::PutDatabase {
            database: Database {
                name: "db".into(),
                ..Database::default()
            },
        };
        // The database's own fields (functions, policies, roles) order every table in it.
        assert_eq!(
            conflict(&[extents("db", "A")], std::slice::from_ref(&put_db)).as_deref(),
            Some("table 'A' of database 'db'")
        );
        assert!(conflict(&[put_db], &[extents("db", "Z")]).is_some());
        let put_table = Change::PutTable {
            database: "db".into(),
            table: Table::new("A", Vec::new()),
        };
        assert!(conflict(&[put_table], &[extents("db", "A")]).is_some());
        // Rewriting the journal would lose the other's appends.
        assert!(conflict(&[journal(true)], &[journal(false)]).is_some());
        assert!(conflict(&[journal(false)], &[journal(true)]).is_some());
        assert!(conflict(&[journal(true)], &[journal(true)]).is_some());
        let cluster = Change::Cluster {
            cluster_roles: Vec::new(),
            policies: Default::default(),
        };
        assert!(
            conflict(
                std::slice::from_ref(&cluster),
                std::slice::from_ref(&cluster)
            )
            .is_some()
        );
    }
}
