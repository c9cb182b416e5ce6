//! [`HttpRegistry`]: a [`SchemaRegistry`] that asks an external Confluent-compatible registry.

use std::collections::HashMap;
use std::fmt;
use std::sync::RwLock;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::{Registered, RegistryError, Schema, SchemaReference, SchemaRegistry, SchemaType};

const ACCEPT: &str =
    "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json; \
                      qs=0.9, application/json; qs=0.5";

/// A schema registry reached over HTTP with Confluent's REST API (Confluent's own, Redpanda's,
/// Apicurio's compatibility API, or Sluice's [`crate::rest::serve`]).
///
/// Calls block (the trait is synchronous) with a 10 s connect timeout and a 30 s timeout per
/// request. `by_id` answers are cached for the life of the value, as ids never change; the
/// subject and version they carry are the first the registry lists for the id (empty and 0 when
/// it lists none) and are not refreshed. Only `http://` URLs work: the client is built without
/// TLS. Proxies named by the `HTTP_PROXY`/`ALL_PROXY` environment variables (and `NO_PROXY`) are
/// honored.
///
/// Errors: a 404 with error code 40403 is [`RegistryError::SchemaNotFound`]; 40401 (subject not
/// found) is [`RegistryError::SubjectNotFound`] from `delete_subject` and an empty answer
/// (`None`, `[]`) from `latest`, `version` and `versions`, as is 40402 (version not found); 422
/// is [`RegistryError::InvalidSchema`]; everything else, connection failures included, is
/// [`RegistryError::Unavailable`].
pub struct HttpRegistry {
    /// The base URL, without a trailing slash.
    base: String,
    agent: ureq::Agent,
    by_id: RwLock<HashMap<u32, Registered>>,
}

impl fmt::Debug for HttpRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRegistry")
            .field("url", &self.base)
            .finish_non_exhaustive()
    }
}

/// An answer: the HTTP status and the body.
struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    /// Confluent's `error_code` (the HTTP status when the body has none).
    fn error_code(&self) -> u32 {
        serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|v| v.get("error_code")?.as_u64())
            .and_then(|c| u32::try_from(c).ok())
            .unwrap_or(self.status as u32)
    }

    /// Confluent's `message` (the body when it has none).
    fn message(&self) -> String {
        serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|v| Some(v.get("message")?.as_str()?.to_string()))
            .unwrap_or_else(|| self.body.clone())
    }

    fn is_not_found(&self, codes: &[u32]) -> bool {
        self.status == 404 && codes.contains(&self.error_code())
    }

    /// The error any other answer is.
    fn unexpected(&self, what: &str) -> RegistryError {
        if self.status == 422 {
            return RegistryError::InvalidSchema(self.message());
        }
        RegistryError::Unavailable(format!(
            "{what}: HTTP {} (error code {}): {}",
            self.status,
            self.error_code(),
            self.message()
        ))
    }

    fn json<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T, RegistryError> {
        serde_json::from_str(&self.body).map_err(|e| {
            RegistryError::Unavailable(format!("{what}: unexpected answer ({e}): {}", self.body))
        })
    }
}

/// A subject version as the REST API answers it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VersionBody {
    subject: String,
    version: u32,
    id: u32,
    schema: String,
    schema_type: Option<String>,
    #[serde(default)]
    references: Vec<SchemaReference>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchemaBody {
    schema: String,
    schema_type: Option<String>,
    #[serde(default)]
    references: Vec<SchemaReference>,
}

#[derive(Deserialize)]
struct SubjectVersion {
    subject: String,
    version: u32,
}

#[derive(Deserialize)]
struct IdBody {
    id: u32,
}

fn schema_type(name: Option<&str>) -> Result<SchemaType, RegistryError> {
    match name {
        None => Ok(SchemaType::Avro),
        Some(name) => SchemaType::parse(name).ok_or_else(|| {
            RegistryError::Unavailable(format!(
                "the registry answered an unknown schemaType '{name}'"
            ))
        }),
    }
}

impl VersionBody {
    fn registered(self) -> Result<Registered, RegistryError> {
        Ok(Registered {
            id: self.id,
            subject: self.subject,
            version: self.version,
            schema: Schema::new(schema_type(self.schema_type.as_deref())?, self.schema)
                .with_references(self.references),
        })
    }
}

/// Percent-encodes a path segment: everything but RFC 3986's unreserved characters.
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl HttpRegistry {
    /// A client of the registry at `url` (`http://host:port`, optionally with a path prefix).
    /// Nothing is asked yet; an unreachable registry shows in the first call.
    pub fn new(url: &str) -> Result<Self, RegistryError> {
        let base = url.trim().trim_end_matches('/');
        let invalid =
            |why: &str| RegistryError::Unavailable(format!("schema registry URL '{url}': {why}"));
        let uri: ureq::http::Uri = base.parse().map_err(|e| invalid(&format!("{e}")))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => return Err(invalid("https is not supported (built without TLS)")),
            _ => return Err(invalid("expected http://host:port")),
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(invalid("no host"));
        }
        if uri.query().is_some() {
            return Err(invalid("a query string is not allowed"));
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_per_call(Some(Duration::from_secs(30)))
            .accept(ACCEPT)
            .build()
            .new_agent();
        Ok(HttpRegistry {
            base: base.to_string(),
            agent,
            by_id: RwLock::new(HashMap::new()),
        })
    }

    /// The registry's URL, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Sends one request; `Err` only when no answer came.
    fn send(&self, method: &str, path: &str, body: Option<Value>) -> Result<Answer, RegistryError> {
        let url = format!("{}{path}", self.base);
        let unavailable =
            |e: ureq::Error| RegistryError::Unavailable(format!("{method} {url}: {e}"));
        let response = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, body) => self
                .agent
                .post(&url)
                .content_type(crate::rest::CONTENT_TYPE_V1)
                .send(body.unwrap_or(Value::Null).to_string()),
        };
        let mut response = response.map_err(unavailable)?;
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().map_err(unavailable)?;
        tracing::trace!(method, url, status, "schema registry answered");
        Ok(Answer { status, body })
    }

    fn get(&self, path: &str) -> Result<Answer, RegistryError> {
        self.send("GET", path, None)
    }

    fn cache(&self, r: &Registered) {
        let mut cache = self.by_id.write().unwrap_or_else(|e| e.into_inner());
        cache.entry(r.id).or_insert_with(|| r.clone());
    }

    /// A subject version, `None` when the subject or the version does not exist.
    fn fetch_version(
        &self,
        subject: &str,
        version: &str,
    ) -> Result<Option<Registered>, RegistryError> {
        let what = format!("version {version} of subject '{subject}'");
        let answer = self.get(&format!("/subjects/{}/versions/{version}", encode(subject)))?;
        match answer.status {
            200 => {
                let r = answer.json::<VersionBody>(&what)?.registered()?;
                self.cache(&r);
                Ok(Some(r))
            }
            _ if answer.is_not_found(&[40401, 40402]) => Ok(None),
            _ => Err(answer.unexpected(&what)),
        }
    }
}

impl SchemaRegistry for HttpRegistry {
    fn by_id(&self, id: u32) -> Result<Registered, RegistryError> {
        if let Some(r) = self
            .by_id
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
        {
            return Ok(r.clone());
        }
        let what = format!("schema {id}");
        let answer = self.get(&format!("/schemas/ids/{id}"))?;
        let body: SchemaBody = match answer.status {
            200 => answer.json(&what)?,
            _ if answer.is_not_found(&[40403]) => return Err(RegistryError::SchemaNotFound(id)),
            _ => return Err(answer.unexpected(&what)),
        };
        // Where it is registered, for information only: older registries lack this route.
        let (subject, version) = self
            .get(&format!("/schemas/ids/{id}/versions"))
            .ok()
            .filter(|a| a.status == 200)
            .and_then(|a| a.json::<Vec<SubjectVersion>>(&what).ok())
            .and_then(|vs| vs.into_iter().next())
            .map(|sv| (sv.subject, sv.version))
            .unwrap_or_default();
        let r = Registered {
            id,
            subject,
            version,
            schema: Schema::new(schema_type(body.schema_type.as_deref())?, body.schema)
                .with_references(body.references),
        };
        self.cache(&r);
        Ok(r)
    }

    fn latest(&self, subject: &str) -> Result<Option<Registered>, RegistryError> {
        self.fetch_version(subject, "latest")
    }

    fn register(&self, subject: &str, schema: &Schema) -> Result<u32, RegistryError> {
        let mut body = json!({"schema": schema.text});
        if schema.schema_type != SchemaType::Avro {
            body["schemaType"] = json!(schema.schema_type.name());
        }
        if !schema.references.is_empty() {
            body["references"] = json!(schema.references);
        }
        let what = format!("registering a schema under subject '{subject}'");
        let answer = self.send(
            "POST",
            &format!("/subjects/{}/versions", encode(subject)),
            Some(body),
        )?;
        match answer.status {
            200 => Ok(answer.json::<IdBody>(&what)?.id),
            _ => Err(answer.unexpected(&what)),
        }
    }

    fn subjects(&self) -> Result<Vec<String>, RegistryError> {
        let answer = self.get("/subjects")?;
        match answer.status {
            200 => {
                let mut subjects: Vec<String> = answer.json("subjects")?;
                subjects.sort();
                Ok(subjects)
            }
            _ => Err(answer.unexpected("subjects")),
        }
    }

    fn versions(&self, subject: &str) -> Result<Vec<u32>, RegistryError> {
        let what = format!("versions of subject '{subject}'");
        let answer = self.get(&format!("/subjects/{}/versions", encode(subject)))?;
        match answer.status {
            200 => {
                let mut versions: Vec<u32> = answer.json(&what)?;
                versions.sort_unstable();
                Ok(versions)
            }
            _ if answer.is_not_found(&[40401]) => Ok(Vec::new()),
            _ => Err(answer.unexpected(&what)),
        }
    }

    fn version(&self, subject: &str, version: u32) -> Result<Option<Registered>, RegistryError> {
        self.fetch_version(subject, &version.to_string())
    }

    fn delete_subject(&self, subject: &str) -> Result<Vec<u32>, RegistryError> {
        let what = format!("deleting subject '{subject}'");
        let answer = self.send("DELETE", &format!("/subjects/{}", encode(subject)), None)?;
        match answer.status {
            200 => answer.json(&what),
            _ if answer.is_not_found(&[40401]) => {
                Err(RegistryError::SubjectNotFound(subject.to_string()))
            }
            _ => Err(answer.unexpected(&what)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode("orders-value"), "orders-value");
        assert_eq!(encode("a b/c%é"), "a%20b%2Fc%25%C3%A9");
    }

    #[test]
    fn urls_are_checked() {
        assert_eq!(
            HttpRegistry::new("http://localhost:8081/").unwrap().url(),
            "http://localhost:8081"
        );
        assert!(HttpRegistry::new("https://localhost:8081").is_err());
        assert!(HttpRegistry::new("localhost:8081").is_err());
        assert!(HttpRegistry::new("not a url").is_err());
        assert!(HttpRegistry::new("http://h:1?x=1").is_err());
    }
}
