//! Sluice's streams and tables as empty DataFusion tables in schema `public`, so that
//! `pg_class`, `pg_attribute`, `pg_tables` and `information_schema` list them.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{MemTable, MemorySchemaProvider, SchemaProvider};

use crate::error::PgCatalogError;

/// What kind of ksqlDB relation this is. Both appear as ordinary tables (`relkind = 'r'`) in
/// `pg_class`; the kind is what `obj_description(oid, 'pg_class')` reports (so psql's `\dt+` and
/// `\d+` show it in their Description column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelationKind {
    Stream,
    Table,
}

impl RelationKind {
    /// `"STREAM"` or `"TABLE"`.
    pub fn as_str(self) -> &'static str {
        match self {
            RelationKind::Stream => "STREAM",
            RelationKind::Table => "TABLE",
        }
    }
}

impl fmt::Display for RelationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A relation to show in the catalog.
#[derive(Debug, Clone)]
pub struct Relation {
    /// The name exactly as Sluice stores it (ksqlDB upper-cases unquoted names).
    pub name: String,
    /// The value columns, key columns included, in declaration order. Arrow types map to
    /// PostgreSQL types as the wire layer maps them (Utf8 → text, Int64 → bigint, ...).
    pub schema: SchemaRef,
    pub kind: RelationKind,
}

impl Relation {
    pub fn new(name: impl Into<String>, schema: SchemaRef, kind: RelationKind) -> Self {
        Relation {
            name: name.into(),
            schema,
            kind,
        }
    }
}

/// A fresh `public` schema holding `relations` as empty tables. The caller swaps it in whole
/// (`CatalogProvider::register_schema`), so a concurrent query sees the old set or the new one,
/// never a mixture.
pub(crate) fn build_schema(
    relations: &[Relation],
) -> Result<Arc<MemorySchemaProvider>, PgCatalogError> {
    let schema = MemorySchemaProvider::new();
    for r in relations {
        if schema.table_exist(&r.name) {
            return Err(PgCatalogError::Internal(format!(
                "relation \"{}\" listed twice",
                r.name
            )));
        }
        let table = MemTable::try_new(r.schema.clone(), vec![vec![]])?;
        schema.register_table(r.name.clone(), Arc::new(table))?;
    }
    Ok(Arc::new(schema))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    fn rel(name: &str, cols: &[&str]) -> Relation {
        let fields: Vec<Field> = cols
            .iter()
            .map(|c| Field::new(*c, DataType::Utf8, true))
            .collect();
        Relation::new(name, Arc::new(Schema::new(fields)), RelationKind::Stream)
    }

    #[tokio::test]
    async fn builds_empty_tables_with_the_given_columns() {
        let schema = build_schema(&[rel("A", &["X"]), rel("B", &["Y", "Z"])]).unwrap();
        let mut names = schema.table_names();
        names.sort();
        assert_eq!(names, vec!["A", "B"]);
        let b = schema.table("B").await.unwrap().unwrap();
        assert_eq!(b.schema().fields().len(), 2);
    }

    #[test]
    fn duplicate_names_are_refused() {
        let e = build_schema(&[rel("A", &["X"]), rel("A", &["Y"])]).unwrap_err();
        assert!(e.to_string().contains("twice"), "{e}");
    }
}
