//! [`LocalRegistry`]: Sluice's own schema registry.
//!
//! Durability: with a sled tree, every registration is written (and flushed) before its id is
//! answered, so an id handed to a producer survives a crash. Without one it lives in memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::{Registered, RegistryError, Schema, SchemaRegistry};

/// One stored entry: a version of a subject (key `v/<subject>\0<version BE>`), or a schema by
/// id (key `i/<id BE>`).
#[derive(Debug, Serialize, Deserialize)]
struct Version {
    id: u32,
    deleted: bool,
}

#[derive(Debug, Default)]
struct State {
    schemas: HashMap<u32, Schema>,
    /// normalized text → id
    ids: HashMap<(crate::SchemaType, String), u32>,
    /// subject → version → id
    subjects: BTreeMap<String, BTreeMap<u32, Version>>,
    next_id: u32,
}

/// A registry in this process: in memory, persisted in a sled tree when given one.
/// Ids start at 1 and grow; versions per subject start at 1.
#[derive(Debug, Clone)]
pub struct LocalRegistry {
    state: Arc<RwLock<State>>,
    tree: Option<sled::Tree>,
}

fn storage(e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Storage(e.to_string())
}

impl Default for LocalRegistry {
    fn default() -> Self {
        Self::in_memory()
    }
}

impl LocalRegistry {
    /// An empty registry that forgets everything when dropped.
    pub fn in_memory() -> Self {
        LocalRegistry {
            state: Arc::new(RwLock::new(State {
                next_id: 1,
                ..State::default()
            })),
            tree: None,
        }
    }

    /// A registry persisted in `tree`, loading what the tree holds.
    pub fn open(tree: sled::Tree) -> Result<Self, RegistryError> {
        let mut state = State {
            next_id: 1,
            ..State::default()
        };
        for item in tree.iter() {
            let (k, v) = item.map_err(storage)?;
            if let Some(id) = k.strip_prefix(b"i/") {
                let id = u32::from_be_bytes(id.try_into().map_err(storage)?);
                let schema: Schema = serde_json::from_slice(&v).map_err(storage)?;
                state
                    .ids
                    .insert((schema.schema_type, schema.normalized()), id);
                state.schemas.insert(id, schema);
                state.next_id = state.next_id.max(id + 1);
            } else if let Some(rest) = k.strip_prefix(b"v/") {
                let split = rest
                    .len()
                    .checked_sub(5)
                    .ok_or_else(|| storage("bad key"))?;
                let subject = String::from_utf8(rest[..split].to_vec()).map_err(storage)?;
                let version = u32::from_be_bytes(rest[split + 1..].try_into().map_err(storage)?);
                let entry: Version = serde_json::from_slice(&v).map_err(storage)?;
                state
                    .subjects
                    .entry(subject)
                    .or_default()
                    .insert(version, entry);
            }
        }
        tracing::debug!(
            schemas = state.schemas.len(),
            subjects = state.subjects.len(),
            "schema registry loaded"
        );
        Ok(LocalRegistry {
            state: Arc::new(RwLock::new(state)),
            tree: Some(tree),
        })
    }

    fn version_key(subject: &str, version: u32) -> Vec<u8> {
        let mut k = b"v/".to_vec();
        k.extend_from_slice(subject.as_bytes());
        k.push(0);
        k.extend_from_slice(&version.to_be_bytes());
        k
    }

    fn persist(&self, writes: &[(Vec<u8>, Vec<u8>)]) -> Result<(), RegistryError> {
        if let Some(tree) = &self.tree {
            let mut batch = sled::Batch::default();
            for (k, v) in writes {
                batch.insert(k.as_slice(), v.as_slice());
            }
            tree.apply_batch(batch).map_err(storage)?;
            tree.flush().map_err(storage)?;
        }
        Ok(())
    }

    fn registered(state: &State, subject: &str, version: u32, id: u32) -> Option<Registered> {
        state.schemas.get(&id).map(|schema| Registered {
            id,
            subject: subject.to_string(),
            version,
            schema: schema.clone(),
        })
    }
}

fn live(versions: &BTreeMap<u32, Version>) -> impl Iterator<Item = (&u32, &Version)> {
    versions.iter().filter(|(_, v)| !v.deleted)
}

impl LocalRegistry {
    /// Register `schema` under `subject` with the given `id` (Confluent's IMPORT mode, used to
    /// reproduce another registry's ids). Fails when `id` already names a different schema.
    pub fn register_with_id(
        &self,
        subject: &str,
        schema: &Schema,
        id: u32,
    ) -> Result<u32, RegistryError> {
        {
            let mut state = self.state.write().map_err(storage)?;
            match state.schemas.get(&id) {
                Some(existing) if existing.normalized() != schema.normalized() => {
                    return Err(RegistryError::InvalidSchema(format!(
                        "id {id} is already taken by another schema"
                    )));
                }
                Some(_) => {}
                None => {
                    self.persist(&[(
                        [b"i/".as_slice(), &id.to_be_bytes()].concat(),
                        serde_json::to_vec(schema).map_err(storage)?,
                    )])?;
                    state.schemas.insert(id, schema.clone());
                    state
                        .ids
                        .insert((schema.schema_type, schema.normalized()), id);
                    state.next_id = state.next_id.max(id + 1);
                }
            }
        }
        self.register(subject, schema)
    }
}

impl SchemaRegistry for LocalRegistry {
    fn by_id(&self, id: u32) -> Result<Registered, RegistryError> {
        let state = self.state.read().map_err(storage)?;
        let schema = state
            .schemas
            .get(&id)
            .ok_or(RegistryError::SchemaNotFound(id))?;
        // The first subject/version that holds it, for information.
        let (subject, version) = state
            .subjects
            .iter()
            .find_map(|(s, vs)| {
                live(vs)
                    .find(|(_, v)| v.id == id)
                    .map(|(n, _)| (s.clone(), *n))
            })
            .unwrap_or_default();
        Ok(Registered {
            id,
            subject,
            version,
            schema: schema.clone(),
        })
    }

    fn latest(&self, subject: &str) -> Result<Option<Registered>, RegistryError> {
        let state = self.state.read().map_err(storage)?;
        Ok(state
            .subjects
            .get(subject)
            .and_then(|vs| live(vs).last())
            .and_then(|(n, v)| Self::registered(&state, subject, *n, v.id)))
    }

    fn register(&self, subject: &str, schema: &Schema) -> Result<u32, RegistryError> {
        let mut state = self.state.write().map_err(storage)?;
        let norm = (schema.schema_type, schema.normalized());
        let existing = state.ids.get(&norm).copied();
        if let Some(id) = existing {
            if state
                .subjects
                .get(subject)
                .is_some_and(|vs| live(vs).any(|(_, v)| v.id == id))
            {
                return Ok(id);
            }
        }
        let mut writes = Vec::new();
        let id = match existing {
            Some(id) => id,
            None => {
                let id = state.next_id;
                writes.push((
                    [b"i/".as_slice(), &id.to_be_bytes()].concat(),
                    serde_json::to_vec(schema).map_err(storage)?,
                ));
                id
            }
        };
        let version = state
            .subjects
            .get(subject)
            .and_then(|vs| vs.keys().last())
            .map_or(1, |v| v + 1);
        let entry = Version { id, deleted: false };
        writes.push((
            Self::version_key(subject, version),
            serde_json::to_vec(&entry).map_err(storage)?,
        ));
        self.persist(&writes)?;
        if existing.is_none() {
            state.schemas.insert(id, schema.clone());
            state.ids.insert(norm, id);
            state.next_id = id + 1;
        }
        state
            .subjects
            .entry(subject.to_string())
            .or_default()
            .insert(version, entry);
        tracing::info!(
            subject,
            id,
            version,
            schema_type = schema.schema_type.name(),
            "schema registered"
        );
        Ok(id)
    }

    fn subjects(&self) -> Result<Vec<String>, RegistryError> {
        let state = self.state.read().map_err(storage)?;
        Ok(state
            .subjects
            .iter()
            .filter(|(_, vs)| live(vs).next().is_some())
            .map(|(s, _)| s.clone())
            .collect())
    }

    fn versions(&self, subject: &str) -> Result<Vec<u32>, RegistryError> {
        let state = self.state.read().map_err(storage)?;
        Ok(state
            .subjects
            .get(subject)
            .map(|vs| live(vs).map(|(n, _)| *n).collect())
            .unwrap_or_default())
    }

    fn version(&self, subject: &str, version: u32) -> Result<Option<Registered>, RegistryError> {
        let state = self.state.read().map_err(storage)?;
        Ok(state
            .subjects
            .get(subject)
            .and_then(|vs| vs.get(&version).filter(|v| !v.deleted))
            .and_then(|v| Self::registered(&state, subject, version, v.id)))
    }

    fn delete_subject(&self, subject: &str) -> Result<Vec<u32>, RegistryError> {
        let mut state = self.state.write().map_err(storage)?;
        let Some(vs) = state.subjects.get(subject) else {
            return Err(RegistryError::SubjectNotFound(subject.to_string()));
        };
        let deleted: Vec<u32> = live(vs).map(|(n, _)| *n).collect();
        if deleted.is_empty() {
            return Err(RegistryError::SubjectNotFound(subject.to_string()));
        }
        let mut writes = Vec::new();
        for n in &deleted {
            let id = vs[n].id;
            writes.push((
                Self::version_key(subject, *n),
                serde_json::to_vec(&Version { id, deleted: true }).map_err(storage)?,
            ));
        }
        self.persist(&writes)?;
        if let Some(vs) = state.subjects.get_mut(subject) {
            for n in &deleted {
                if let Some(v) = vs.get_mut(n) {
                    v.deleted = true;
                }
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = r#"{"type": "record", "name": "A", "fields": [{"name": "X", "type": "int"}]}"#;
    const B: &str = r#"{"type":"record","name":"B","fields":[]}"#;

    #[test]
    fn ids_versions_and_reuse() {
        let r = LocalRegistry::in_memory();
        let a = r.register("t-value", &Schema::avro(A)).unwrap();
        // Same schema, other whitespace: same id, no new version.
        let a2 = r
            .register("t-value", &Schema::avro(A.replace(' ', "")))
            .unwrap();
        assert_eq!(a, a2);
        assert_eq!(r.versions("t-value").unwrap(), vec![1]);
        let b = r.register("t-value", &Schema::avro(B)).unwrap();
        assert_ne!(a, b);
        assert_eq!(r.versions("t-value").unwrap(), vec![1, 2]);
        assert_eq!(r.latest("t-value").unwrap().unwrap().id, b);
        // Known schema under another subject: same id, version 1 there.
        assert_eq!(r.register("u-key", &Schema::avro(A)).unwrap(), a);
        assert_eq!(r.version("u-key", 1).unwrap().unwrap().id, a);
        assert_eq!(r.subjects().unwrap(), vec!["t-value", "u-key"]);
        assert_eq!(r.by_id(b).unwrap().schema.text, B);
        assert_eq!(r.by_id(99), Err(RegistryError::SchemaNotFound(99)));
        assert_eq!(r.latest("nope").unwrap(), None);
    }

    #[test]
    fn deleted_subjects_keep_ids() {
        let r = LocalRegistry::in_memory();
        let a = r.register("t-value", &Schema::avro(A)).unwrap();
        assert_eq!(r.delete_subject("t-value").unwrap(), vec![1]);
        assert_eq!(r.latest("t-value").unwrap(), None);
        assert!(r.subjects().unwrap().is_empty());
        assert_eq!(r.by_id(a).unwrap().schema.text, A);
        // Registering again adds version 2 with the same id.
        assert_eq!(r.register("t-value", &Schema::avro(A)).unwrap(), a);
        assert_eq!(r.versions("t-value").unwrap(), vec![2]);
        assert!(r.delete_subject("nope").is_err());
    }

    #[test]
    fn survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = {
            let db = sled::open(dir.path()).unwrap();
            let r = LocalRegistry::open(db.open_tree("schemas").unwrap()).unwrap();
            let a = r.register("t-value", &Schema::avro(A)).unwrap();
            let b = r.register("t-key", &Schema::avro(B)).unwrap();
            r.delete_subject("t-key").unwrap();
            (a, b)
        };
        let db = sled::open(dir.path()).unwrap();
        let r = LocalRegistry::open(db.open_tree("schemas").unwrap()).unwrap();
        assert_eq!(r.latest("t-value").unwrap().unwrap().id, a);
        assert_eq!(r.latest("t-key").unwrap(), None);
        assert_eq!(r.by_id(b).unwrap().schema.text, B);
        // New ids continue after the old ones.
        let c = r
            .register("t-value", &Schema::avro(r#"{"type":"string"}"#))
            .unwrap();
        assert!(c > a && c > b);
    }
}
