//! Confluent's Schema Registry REST API, served over any [`SchemaRegistry`].
//!
//! [`serve`] answers the subset of the API that serializers, deserializers and tools use (see the
//! crate docs for the list of routes). Every answer is JSON with the content type
//! `application/vnd.schemaregistry.v1+json`; errors carry Confluent's body
//! `{"error_code": N, "message": "..."}`. Request content types are not checked, so
//! `application/json`, `application/vnd.schemaregistry.v1+json` (and anything else) are accepted.
//!
//! The registry is synchronous and may block (it may itself be an [`crate::HttpRegistry`]), so each
//! request is answered on tokio's blocking pool; the async part only reads and writes sockets.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::compat::{incompatibilities, Level};
use crate::{Registered, RegistryError, Schema, SchemaReference, SchemaRegistry, SchemaType};

/// The content type of every answer.
pub const CONTENT_TYPE_V1: &str = "application/vnd.schemaregistry.v1+json";

/// Request bodies larger than this are refused (413).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Serves Confluent's Schema Registry REST API for `registry` on `listener`, HTTP/1.1 only.
///
/// Runs until the future is dropped (or its task aborted); dropping it also closes the open
/// connections. Failing to accept a connection is logged and retried, so in practice it only
/// returns an error when the listener has no local address.
pub async fn serve(
    registry: Arc<dyn SchemaRegistry>,
    listener: TcpListener,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "schema registry REST API listening");
    let api = Arc::new(Api {
        registry,
        config: Mutex::new(CompatibilityConfig {
            global: "BACKWARD".to_string(),
            subjects: HashMap::new(),
        }),
    });
    // The connections belong to this future: dropping it drops the set, which aborts them.
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            Some(_) = connections.join_next() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Usually transient (out of file descriptors, a connection reset while queued).
                tracing::warn!(%error, "schema registry: accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let api = api.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let api = api.clone();
                async move { Ok::<_, Infallible>(api.handle(request).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "schema registry connection ended with an error");
            }
        });
    }
}

/// Compatibility levels (in memory): the global one and subjects' own. Registrations through
/// the REST API are checked against them (see [`crate::compat`]).
#[derive(Debug)]
struct CompatibilityConfig {
    global: String,
    subjects: HashMap<String, String>,
}

struct Api {
    registry: Arc<dyn SchemaRegistry>,
    config: Mutex<CompatibilityConfig>,
}

/// An answer: a status and a body (JSON, or a schema's raw text).
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    body: String,
}

impl Reply {
    fn ok(value: Value) -> Reply {
        Reply {
            status: StatusCode::OK,
            body: value.to_string(),
        }
    }

    fn error(status: StatusCode, code: u32, message: impl Into<String>) -> Reply {
        Reply {
            status,
            body: json!({"error_code": code, "message": message.into()}).to_string(),
        }
    }

    fn not_found() -> Reply {
        Reply::error(StatusCode::NOT_FOUND, 404, "HTTP 404 Not Found")
    }

    fn method_not_allowed() -> Reply {
        Reply::error(
            StatusCode::METHOD_NOT_ALLOWED,
            405,
            "HTTP 405 Method Not Allowed",
        )
    }

    fn subject_not_found(subject: &str) -> Reply {
        Reply::from(RegistryError::SubjectNotFound(subject.to_string()))
    }

    fn invalid_schema(message: impl std::fmt::Display) -> Reply {
        Reply::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            42201,
            format!("Invalid schema: {message}"),
        )
    }

    fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::from(self.body)));
        *response.status_mut() = self.status;
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_V1));
        response
    }
}

impl From<RegistryError> for Reply {
    fn from(error: RegistryError) -> Reply {
        let (status, code) = match &error {
            RegistryError::SchemaNotFound(_) => (StatusCode::NOT_FOUND, 40403),
            RegistryError::SubjectNotFound(_) => (StatusCode::NOT_FOUND, 40401),
            RegistryError::InvalidSchema(_) => (StatusCode::UNPROCESSABLE_ENTITY, 42201),
            RegistryError::Storage(_) => (StatusCode::INTERNAL_SERVER_ERROR, 50001),
            RegistryError::Unavailable(_) => (StatusCode::INTERNAL_SERVER_ERROR, 50003),
        };
        Reply::error(status, code, error.to_string())
    }
}

/// A version in a path: a number in 1..=2^31-1, or `latest` (also spelled `-1`).
#[derive(Debug, Clone, Copy)]
enum VersionId {
    Latest,
    Number(u32),
}

fn parse_version(text: &str) -> Result<VersionId, Reply> {
    if text.eq_ignore_ascii_case("latest") || text == "-1" {
        return Ok(VersionId::Latest);
    }
    match text.parse::<u32>() {
        Ok(n) if (1..=i32::MAX as u32).contains(&n) => Ok(VersionId::Number(n)),
        _ => Err(Reply::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            42202,
            format!(
                "The specified version '{text}' is not a valid version id. Allowed values are \
                 between [1, 2^31-1] and the string \"latest\""
            ),
        )),
    }
}

/// The body of `POST /subjects/{subject}/versions` and `POST /subjects/{subject}`. Other fields
/// Confluent knows (`id`, `version`, `metadata`, `ruleSet`) are ignored.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchemaRequest {
    schema: Option<String>,
    schema_type: Option<String>,
    references: Option<Vec<ReferenceRequest>>,
}

/// One of a request's `references`.
#[derive(Debug, Deserialize)]
struct ReferenceRequest {
    name: String,
    subject: String,
    version: i64,
}

#[derive(Debug, Deserialize)]
struct ConfigRequest {
    compatibility: Option<String>,
}

/// Parses a JSON request body, or answers Confluent's error for a malformed one.
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Reply> {
    serde_json::from_slice(body).map_err(|e| {
        Reply::error(
            StatusCode::BAD_REQUEST,
            400,
            format!("Invalid request body: {e}"),
        )
    })
}

/// The schema a register or lookup request names, checked: a known type, references to
/// versions that exist (`-1` is the latest), and for AVRO and JSON a text that parses as JSON.
fn requested_schema(body: &[u8], registry: &dyn SchemaRegistry) -> Result<Schema, Reply> {
    let request: SchemaRequest = parse_body(body)?;
    let schema_type = match request.schema_type.as_deref() {
        None => SchemaType::Avro,
        Some(name) => SchemaType::parse(name)
            .ok_or_else(|| Reply::invalid_schema(format!("unknown schemaType '{name}'")))?,
    };
    let mut references = Vec::new();
    for r in request.references.unwrap_or_default() {
        let found = if r.version == -1 {
            registry.latest(&r.subject)?
        } else {
            match u32::try_from(r.version) {
                Ok(v) => registry.version(&r.subject, v)?,
                Err(_) => None,
            }
        };
        let Some(found) = found else {
            return Err(Reply::invalid_schema(format!(
                "reference '{}' names version {} of subject '{}', which does not exist",
                r.name, r.version, r.subject
            )));
        };
        references.push(SchemaReference {
            name: r.name,
            subject: r.subject,
            version: found.version,
        });
    }
    let text = request.schema.unwrap_or_default();
    if text.trim().is_empty() {
        return Err(Reply::invalid_schema("the schema is empty"));
    }
    if matches!(schema_type, SchemaType::Avro | SchemaType::Json) {
        if let Err(e) = serde_json::from_str::<Value>(&text) {
            return Err(Reply::invalid_schema(format!(
                "a {} schema must be a JSON document: {e}",
                schema_type.name()
            )));
        }
    }
    Ok(Schema::new(schema_type, text).with_references(references))
}

/// A schema's `references` as Confluent answers them.
fn references_json(schema: &Schema) -> Value {
    json!(schema
        .references
        .iter()
        .map(|r| json!({"name": r.name, "subject": r.subject, "version": r.version}))
        .collect::<Vec<_>>())
}

/// `{"subject","version","id","schema"}`, plus `schemaType` unless AVRO (as Confluent answers).
fn version_json(r: &Registered) -> Value {
    let mut value = json!({
        "subject": r.subject,
        "version": r.version,
        "id": r.id,
        "schema": r.schema.text,
    });
    if r.schema.schema_type != SchemaType::Avro {
        value["schemaType"] = json!(r.schema.schema_type.name());
    }
    if !r.schema.references.is_empty() {
        value["references"] = references_json(&r.schema);
    }
    value
}

/// Splits a path into percent-decoded segments; `None` when a segment is not UTF-8 once decoded.
/// One trailing slash is ignored.
fn segments(path: &str) -> Option<Vec<String>> {
    let path = path.strip_prefix('/').unwrap_or(path);
    let path = path.strip_suffix('/').unwrap_or(path);
    if path.is_empty() {
        return Some(Vec::new());
    }
    path.split('/').map(percent_decode).collect()
}

/// Decodes `%XX` escapes; a `%` not followed by two hex digits is kept as it is.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match (bytes[i], bytes.get(i + 1..i + 3)) {
            (b'%', Some(hex)) => std::str::from_utf8(hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok()),
            _ => None,
        };
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The query string's parameters (`+` and `%XX` decoded).
fn query_params(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((
                percent_decode(&k.replace('+', " "))?,
                percent_decode(&v.replace('+', " "))?,
            ))
        })
        .collect()
}

impl Api {
    async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let started = Instant::now();
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let query = request.uri().query().unwrap_or("").to_string();
        let reply = match Limited::new(request.into_body(), MAX_BODY).collect().await {
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Reply::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                413,
                format!("Request body larger than {MAX_BODY} bytes"),
            ),
            Err(e) => Reply::error(
                StatusCode::BAD_REQUEST,
                400,
                format!("Reading the request failed: {e}"),
            ),
            Ok(body) => {
                let body = body.to_bytes();
                let api = self.clone();
                let (m, p, q) = (method.clone(), path.clone(), query.clone());
                tokio::task::spawn_blocking(move || api.route(&m, &p, &q, &body))
                    .await
                    .unwrap_or_else(|e| {
                        tracing::error!(error = %e, "schema registry request handler failed");
                        Reply::error(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            50001,
                            "Error in the backend data store",
                        )
                    })
            }
        };
        let status = reply.status.as_u16();
        let elapsed_us = started.elapsed().as_micros() as u64;
        if reply.status.is_server_error() {
            tracing::warn!(%method, path, query, status, elapsed_us, body = reply.body, "schema registry request");
        } else {
            tracing::debug!(%method, path, query, status, elapsed_us, "schema registry request");
        }
        reply.into_response()
    }

    /// Answers one request (synchronously: the registry may block).
    fn route(&self, method: &Method, path: &str, query: &str, body: &[u8]) -> Reply {
        let Some(segments) = segments(path) else {
            return Reply::not_found();
        };
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let params = query_params(query);
        // A subject is never empty (`/subjects//versions` is no route).
        if segments.iter().skip(1).any(|s| s.is_empty()) {
            return Reply::not_found();
        }
        let result = match (segments.as_slice(), method.as_str()) {
            ([], "GET") => Ok(Reply::ok(json!({}))),
            (["subjects"], "GET") => self.subjects(params.get("subjectPrefix")),
            (["subjects", subject], "POST") => self.lookup(subject, body),
            (["subjects", subject], "DELETE") => self.delete_subject(subject),
            (["subjects", subject, "versions"], "GET") => self.versions(subject),
            (["subjects", subject, "versions"], "POST") => self.register(subject, body),
            (["compatibility", "subjects", subject, "versions", version], "POST") => {
                self.check_compatibility(subject, version, body, &params)
            }
            (["subjects", subject, "versions", version], "GET") => self
                .find_version(subject, version)
                .map(|r| Reply::ok(version_json(&r))),
            (["subjects", subject, "versions", version, "schema"], "GET") => {
                self.find_version(subject, version).map(|r| Reply {
                    status: StatusCode::OK,
                    body: r.schema.text,
                })
            }
            (["subjects", subject, "versions", version, "referencedby"], "GET") => {
                self.referenced_by(subject, version)
            }
            (["schemas", "types"], "GET") => Ok(Reply::ok(json!(["JSON", "PROTOBUF", "AVRO"]))),
            (["schemas", "ids", id], "GET") => self.by_id(id).map(|r| {
                let mut value = json!({"schema": r.schema.text});
                if r.schema.schema_type != SchemaType::Avro {
                    value["schemaType"] = json!(r.schema.schema_type.name());
                }
                if !r.schema.references.is_empty() {
                    value["references"] = references_json(&r.schema);
                }
                Reply::ok(value)
            }),
            (["schemas", "ids", id, "schema"], "GET") => self.by_id(id).map(|r| Reply {
                status: StatusCode::OK,
                body: r.schema.text,
            }),
            (["schemas", "ids", id, "subjects"], "GET") => self.id_versions(id).map(|vs| {
                let mut subjects: Vec<String> = vs.into_iter().map(|(s, _)| s).collect();
                subjects.dedup();
                Reply::ok(json!(subjects))
            }),
            (["schemas", "ids", id, "versions"], "GET") => self.id_versions(id).map(|vs| {
                let list: Vec<Value> = vs
                    .into_iter()
                    .map(|(subject, version)| json!({"subject": subject, "version": version}))
                    .collect();
                Reply::ok(Value::Array(list))
            }),
            (["config"], "GET") => {
                Ok(self.with_config(|c| Reply::ok(json!({"compatibilityLevel": c.global}))))
            }
            (["config"], "PUT") => self.put_config(None, body),
            (["config", subject], "GET") => self.get_config(subject, &params),
            (["config", subject], "PUT") => self.put_config(Some(subject), body),
            (["config", subject], "DELETE") => self.delete_config(subject),
            (
                []
                | ["subjects"]
                | ["subjects", _]
                | ["subjects", _, "versions"]
                | ["subjects", _, "versions", _]
                | ["subjects", _, "versions", _, "schema" | "referencedby"]
                | ["schemas", "types"]
                | ["schemas", "ids", _]
                | ["schemas", "ids", _, "schema" | "subjects" | "versions"]
                | ["config"]
                | ["config", _]
                | ["compatibility", "subjects", _, "versions", _],
                _,
            ) => Err(Reply::method_not_allowed()),
            _ => Err(Reply::not_found()),
        };
        result.unwrap_or_else(|reply| reply)
    }

    fn subjects(&self, prefix: Option<&String>) -> Result<Reply, Reply> {
        let mut subjects = self.registry.subjects()?;
        if let Some(prefix) = prefix {
            subjects.retain(|s| s.starts_with(prefix.as_str()));
        }
        Ok(Reply::ok(json!(subjects)))
    }

    fn versions(&self, subject: &str) -> Result<Reply, Reply> {
        let versions = self.registry.versions(subject)?;
        if versions.is_empty() {
            return Err(Reply::subject_not_found(subject));
        }
        Ok(Reply::ok(json!(versions)))
    }

    fn register(&self, subject: &str, body: &[u8]) -> Result<Reply, Reply> {
        let schema = requested_schema(body, self.registry.as_ref())?;
        // A schema the subject already has is answered with its id; a new version must be
        // compatible with the earlier ones at the subject's level.
        let earlier = self.schemas_of(subject)?;
        let wanted = schema.normalized();
        if !earlier
            .iter()
            .any(|e| e.schema_type == schema.schema_type && e.normalized() == wanted)
        {
            let problems = incompatibilities(self.level(subject), &schema, &earlier);
            if !problems.is_empty() {
                return Err(Reply::error(
                    StatusCode::CONFLICT,
                    409,
                    format!(
                        "Schema being registered is incompatible with an earlier schema for \
                         subject \"{subject}\", details: [{}]",
                        problems.join("; ")
                    ),
                ));
            }
        }
        let id = self.registry.register(subject, &schema)?;
        Ok(Reply::ok(json!({ "id": id })))
    }

    /// The schemas of `subject`'s live versions, oldest first.
    fn schemas_of(&self, subject: &str) -> Result<Vec<Schema>, Reply> {
        let mut out = Vec::new();
        for v in self.registry.versions(subject)? {
            if let Some(r) = self.registry.version(subject, v)? {
                out.push(r.schema);
            }
        }
        Ok(out)
    }

    /// The compatibility level of `subject`: its own, else the global one.
    fn level(&self, subject: &str) -> Level {
        self.with_config(|c| {
            let name = c.subjects.get(subject).unwrap_or(&c.global);
            Level::parse(name).unwrap_or(Level::Backward)
        })
    }

    /// `POST /compatibility/subjects/{s}/versions/{v}`: whether the schema in the body may
    /// follow version `v` (`latest`), or every version up to it for transitive levels.
    fn check_compatibility(
        &self,
        subject: &str,
        version: &str,
        body: &[u8],
        params: &HashMap<String, String>,
    ) -> Result<Reply, Reply> {
        let schema = requested_schema(body, self.registry.as_ref())?;
        let target = self.find_version(subject, version)?;
        let mut earlier = Vec::new();
        for v in self.registry.versions(subject)? {
            if v > target.version {
                break;
            }
            if let Some(r) = self.registry.version(subject, v)? {
                earlier.push(r.schema);
            }
        }
        let problems = incompatibilities(self.level(subject), &schema, &earlier);
        let mut answer = json!({ "is_compatible": problems.is_empty() });
        if params.get("verbose").is_some_and(|v| v == "true") {
            answer["messages"] = json!(problems);
        }
        Ok(Reply::ok(answer))
    }

    /// `POST /subjects/{subject}`: the version of `subject` that holds the schema in the body.
    fn lookup(&self, subject: &str, body: &[u8]) -> Result<Reply, Reply> {
        let schema = requested_schema(body, self.registry.as_ref())?;
        let versions = self.registry.versions(subject)?;
        if versions.is_empty() {
            return Err(Reply::subject_not_found(subject));
        }
        let wanted = schema.normalized();
        for version in versions {
            if let Some(r) = self.registry.version(subject, version)? {
                if r.schema.schema_type == schema.schema_type && r.schema.normalized() == wanted {
                    return Ok(Reply::ok(version_json(&r)));
                }
            }
        }
        Err(Reply::error(
            StatusCode::NOT_FOUND,
            40403,
            "Schema not found",
        ))
    }

    /// `GET /subjects/{s}/versions/{v}/referencedby`: the ids of the schemas that reference it.
    fn referenced_by(&self, subject: &str, version: &str) -> Result<Reply, Reply> {
        let target = self.find_version(subject, version)?;
        let mut ids = Vec::new();
        for s in self.registry.subjects()? {
            for v in self.registry.versions(&s)? {
                if let Some(r) = self.registry.version(&s, v)? {
                    let refers = r
                        .schema
                        .references
                        .iter()
                        .any(|x| x.subject == target.subject && x.version == target.version);
                    if refers && !ids.contains(&r.id) {
                        ids.push(r.id);
                    }
                }
            }
        }
        ids.sort_unstable();
        Ok(Reply::ok(json!(ids)))
    }

    fn delete_subject(&self, subject: &str) -> Result<Reply, Reply> {
        let versions = self.registry.delete_subject(subject)?;
        Ok(Reply::ok(json!(versions)))
    }

    fn find_version(&self, subject: &str, version: &str) -> Result<Registered, Reply> {
        let wanted = parse_version(version)?;
        let found = match wanted {
            VersionId::Latest => self.registry.latest(subject)?,
            VersionId::Number(n) => self.registry.version(subject, n)?,
        };
        match found {
            Some(r) => Ok(r),
            None if self.registry.versions(subject)?.is_empty() => {
                Err(Reply::subject_not_found(subject))
            }
            None => Err(Reply::error(
                StatusCode::NOT_FOUND,
                40402,
                format!("Version {version} not found."),
            )),
        }
    }

    fn by_id(&self, id: &str) -> Result<Registered, Reply> {
        let id = id.parse::<u32>().map_err(|_| {
            Reply::error(
                StatusCode::NOT_FOUND,
                40403,
                format!("Schema {id} not found"),
            )
        })?;
        Ok(self.registry.by_id(id)?)
    }

    /// The live subject versions that hold schema `id` (after checking the id exists).
    fn id_versions(&self, id: &str) -> Result<Vec<(String, u32)>, Reply> {
        let id = self.by_id(id)?.id;
        let mut found = Vec::new();
        for subject in self.registry.subjects()? {
            for version in self.registry.versions(&subject)? {
                if self
                    .registry
                    .version(&subject, version)?
                    .is_some_and(|r| r.id == id)
                {
                    found.push((subject.clone(), version));
                }
            }
        }
        Ok(found)
    }

    fn with_config<T>(&self, f: impl FnOnce(&mut CompatibilityConfig) -> T) -> T {
        let mut config = self.config.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut config)
    }

    fn get_config(&self, subject: &str, params: &HashMap<String, String>) -> Result<Reply, Reply> {
        let default_to_global = params
            .get("defaultToGlobal")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        self.with_config(|c| match c.subjects.get(subject) {
            Some(level) => Ok(Reply::ok(json!({"compatibilityLevel": level}))),
            None if default_to_global => Ok(Reply::ok(json!({"compatibilityLevel": c.global}))),
            None => Err(Reply::error(
                StatusCode::NOT_FOUND,
                40408,
                format!("Subject '{subject}' does not have subject-level compatibility configured"),
            )),
        })
    }

    fn put_config(&self, subject: Option<&str>, body: &[u8]) -> Result<Reply, Reply> {
        let request: ConfigRequest = parse_body(body)?;
        let level = request
            .compatibility
            .as_deref()
            .and_then(Level::parse)
            .map(|l| l.name().to_string())
            .ok_or_else(|| {
                Reply::error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    42203,
                    "Invalid compatibility level. Valid values are none, backward, forward, full, \
                     backward_transitive, forward_transitive, and full_transitive",
                )
            })?;
        self.with_config(|c| match subject {
            Some(subject) => {
                c.subjects.insert(subject.to_string(), level.clone());
            }
            None => c.global = level.clone(),
        });
        tracing::info!(subject, level, "schema registry compatibility set");
        Ok(Reply::ok(json!({ "compatibility": level })))
    }

    fn delete_config(&self, subject: &str) -> Result<Reply, Reply> {
        self.with_config(|c| match c.subjects.remove(subject) {
            Some(level) => Ok(Reply::ok(json!({"compatibilityLevel": level}))),
            None => Err(Reply::error(
                StatusCode::NOT_FOUND,
                40408,
                format!("Subject '{subject}' does not have subject-level compatibility configured"),
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_split_and_decoded() {
        assert_eq!(segments("/").unwrap(), Vec::<String>::new());
        assert_eq!(
            segments("/subjects/a%20b%2Fc/versions/").unwrap(),
            vec!["subjects", "a b/c", "versions"]
        );
        // A stray '%' is kept; '+' is literal in a path.
        assert_eq!(segments("/x%2/a+b%").unwrap(), vec!["x%2", "a+b%"]);
        // Not UTF-8 once decoded.
        assert_eq!(segments("/subjects/%ff"), None);
        let q = query_params("defaultToGlobal=true&subjectPrefix=a%2Db+c&flag");
        assert_eq!(q["defaultToGlobal"], "true");
        assert_eq!(q["subjectPrefix"], "a-b c");
        assert_eq!(q["flag"], "");
    }

    #[test]
    fn versions_parse() {
        assert!(matches!(parse_version("latest"), Ok(VersionId::Latest)));
        assert!(matches!(parse_version("-1"), Ok(VersionId::Latest)));
        assert!(matches!(parse_version("3"), Ok(VersionId::Number(3))));
        for bad in ["0", "x", "2147483648", "-2", ""] {
            let reply = parse_version(bad).unwrap_err();
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        }
    }
}
