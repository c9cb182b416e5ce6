//! The REST API (`serve` over a `LocalRegistry`) against `HttpRegistry` and raw HTTP requests.

use std::sync::Arc;

use serde_json::{json, Value};
use sluice_registry::{
    serve, HttpRegistry, LocalRegistry, RegistryError, Schema, SchemaRegistry, SchemaType,
};

const A: &str = r#"{"type": "record", "name": "A", "fields": [{"name": "X", "type": "int"}]}"#;
const B: &str = r#"{"type":"record","name":"B","fields":[]}"#;
const PROTO: &str = "syntax = \"proto3\";\nmessage P { int32 x = 1; }\n";
const V1: &str = "application/vnd.schemaregistry.v1+json";

/// A server on 127.0.0.1 in its own runtime; dropping it stops the server.
struct Server {
    url: String,
    runtime: tokio::runtime::Runtime,
}

fn start(registry: LocalRegistry) -> Server {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(serve(Arc::new(registry), listener));
    Server { url, runtime }
}

impl Server {
    fn stop(self) {
        self.runtime
            .shutdown_timeout(std::time::Duration::from_secs(5));
    }
}

/// A raw answer: status, content type and body.
struct Raw {
    status: u16,
    content_type: String,
    body: String,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// Asserts a Confluent error answer and answers its message.
    fn assert_error(&self, status: u16, code: u64) -> String {
        assert_eq!(self.status, status, "{}", self.body);
        let v = self.json();
        assert_eq!(v["error_code"], json!(code), "{}", self.body);
        v["message"].as_str().expect("a message").to_string()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

fn raw(method: &str, url: &str, body: Option<&str>) -> Raw {
    raw_with_type(method, url, body, V1)
}

fn raw_with_type(method: &str, url: &str, body: Option<&str>, content_type: &str) -> Raw {
    let agent = agent();
    let response = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        ("POST", b) => agent
            .post(url)
            .content_type(content_type)
            .send(b.unwrap_or("")),
        ("PUT", b) => agent
            .put(url)
            .content_type(content_type)
            .send(b.unwrap_or("")),
        _ => panic!("{method}"),
    };
    let mut response = response.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = response.body_mut().read_to_string().unwrap();
    Raw {
        status,
        content_type,
        body,
    }
}

fn register_body(schema: &str, schema_type: Option<&str>) -> String {
    let mut body = json!({ "schema": schema });
    if let Some(t) = schema_type {
        body["schemaType"] = json!(t);
    }
    body.to_string()
}

#[test]
fn http_registry_round_trip() {
    let local = LocalRegistry::in_memory();
    let server = start(local.clone());
    let remote = HttpRegistry::new(&server.url).unwrap();
    // A and B are unrelated records: no compatibility checks on this subject.
    raw(
        "PUT",
        &format!("{}/config/t-value", server.url),
        Some(r#"{"compatibility": "NONE"}"#),
    );

    let a = remote.register("t-value", &Schema::avro(A)).unwrap();
    // The same schema with other whitespace: same id, no new version.
    assert_eq!(
        remote
            .register("t-value", &Schema::avro(A.replace(' ', "")))
            .unwrap(),
        a
    );
    let b = remote.register("t-value", &Schema::avro(B)).unwrap();
    assert_ne!(a, b);
    // The server's registry holds what the client registered.
    assert_eq!(local.latest("t-value").unwrap().unwrap().id, b);

    assert_eq!(remote.versions("t-value").unwrap(), vec![1, 2]);
    let latest = remote.latest("t-value").unwrap().unwrap();
    assert_eq!((latest.id, latest.version), (b, 2));
    assert_eq!(latest.subject, "t-value");
    assert_eq!(latest.schema, Schema::avro(B));
    let v1 = remote.version("t-value", 1).unwrap().unwrap();
    assert_eq!((v1.id, v1.schema.text.as_str()), (a, A));
    assert_eq!(remote.version("t-value", 3).unwrap(), None);

    // PROTOBUF keeps its type both ways; a subject that needs percent-encoding.
    let odd = "odd subject/with%chars-é";
    let p = remote
        .register(odd, &Schema::new(SchemaType::Protobuf, PROTO))
        .unwrap();
    assert_eq!(local.versions(odd).unwrap(), vec![1]);
    let by_id = remote.by_id(p).unwrap();
    assert_eq!(by_id.schema, Schema::new(SchemaType::Protobuf, PROTO));
    assert_eq!((by_id.subject.as_str(), by_id.version), (odd, 1));
    assert_eq!(remote.latest(odd).unwrap().unwrap().id, p);

    assert_eq!(remote.subjects().unwrap(), vec![odd, "t-value"]);
    assert_eq!(remote.by_id(a).unwrap().schema.text, A);

    // Unknowns.
    assert_eq!(remote.by_id(999), Err(RegistryError::SchemaNotFound(999)));
    assert_eq!(remote.latest("nope").unwrap(), None);
    assert_eq!(remote.version("nope", 1).unwrap(), None);
    assert_eq!(remote.versions("nope").unwrap(), Vec::<u32>::new());

    // Invalid schemas are refused with InvalidSchema.
    assert!(matches!(
        remote.register("t-value", &Schema::avro("{not json")),
        Err(RegistryError::InvalidSchema(_))
    ));

    // Deleting.
    assert_eq!(remote.delete_subject("t-value").unwrap(), vec![1, 2]);
    assert_eq!(remote.latest("t-value").unwrap(), None);
    assert_eq!(remote.subjects().unwrap(), vec![odd]);
    assert_eq!(
        remote.delete_subject("t-value"),
        Err(RegistryError::SubjectNotFound("t-value".into()))
    );
    // Ids stay valid after their subject is deleted.
    assert_eq!(remote.by_id(b).unwrap().schema.text, B);
    server.stop();
}

#[test]
fn by_id_is_cached_and_a_gone_server_is_unavailable() {
    let local = LocalRegistry::in_memory();
    let a = local.register("t-value", &Schema::avro(A)).unwrap();
    let b = local.register("u-value", &Schema::avro(B)).unwrap();
    let server = start(local);
    let remote = HttpRegistry::new(&server.url).unwrap();
    assert_eq!(remote.by_id(a).unwrap().schema.text, A);
    server.stop();

    // The cached id still answers; anything else needs the server.
    let cached = remote.by_id(a).unwrap();
    assert_eq!((cached.subject.as_str(), cached.version), ("t-value", 1));
    assert!(matches!(
        remote.by_id(b),
        Err(RegistryError::Unavailable(_))
    ));
    assert!(matches!(
        remote.latest("t-value"),
        Err(RegistryError::Unavailable(_))
    ));
    assert!(matches!(
        remote.register("t-value", &Schema::avro(B)),
        Err(RegistryError::Unavailable(_))
    ));
}

#[test]
fn raw_answers_and_error_codes() {
    let local = LocalRegistry::in_memory();
    let server = start(local.clone());
    let url = |path: &str| format!("{}{path}", server.url);
    // Unrelated schemas follow each other in x-value: no compatibility checks there.
    raw(
        "PUT",
        &url("/config/x-value"),
        Some(r#"{"compatibility": "NONE"}"#),
    );

    // Register, with Confluent's content type and with plain application/json.
    let r = raw(
        "POST",
        &url("/subjects/x-value/versions"),
        Some(&register_body(A, None)),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.content_type, V1);
    let a = r.json()["id"].as_u64().unwrap();
    let r = raw_with_type(
        "POST",
        &url("/subjects/x-value/versions"),
        Some(&register_body(PROTO, Some("PROTOBUF"))),
        "application/json",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let p = r.json()["id"].as_u64().unwrap();
    assert_ne!(a, p);
    assert_eq!(
        local.latest("x-value").unwrap().unwrap().schema.schema_type,
        SchemaType::Protobuf
    );

    // Reading versions: no schemaType for AVRO, PROTOBUF named.
    let r = raw("GET", &url("/subjects/x-value/versions/1"), None);
    assert_eq!(
        r.json(),
        json!({"subject": "x-value", "version": 1, "id": a, "schema": A})
    );
    let r = raw("GET", &url("/subjects/x-value/versions/latest"), None);
    assert_eq!(
        r.json(),
        json!({"subject": "x-value", "version": 2, "id": p, "schema": PROTO, "schemaType": "PROTOBUF"})
    );
    let r = raw("GET", &url("/subjects/x-value/versions/-1/schema"), None);
    assert_eq!((r.status, r.body.as_str()), (200, PROTO));
    assert_eq!(
        raw("GET", &url("/subjects/x-value/versions"), None).json(),
        json!([1, 2])
    );
    assert_eq!(
        raw("GET", &url("/subjects"), None).json(),
        json!(["x-value"])
    );
    assert_eq!(
        raw("GET", &url("/subjects?subjectPrefix=y"), None).json(),
        json!([])
    );
    assert_eq!(
        raw(
            "GET",
            &url("/subjects/x-value/versions/1/referencedby"),
            None
        )
        .json(),
        json!([])
    );

    // By id.
    assert_eq!(
        raw("GET", &url(&format!("/schemas/ids/{a}")), None).json(),
        json!({ "schema": A })
    );
    assert_eq!(
        raw("GET", &url(&format!("/schemas/ids/{p}")), None).json(),
        json!({"schema": PROTO, "schemaType": "PROTOBUF"})
    );
    assert_eq!(
        raw("GET", &url(&format!("/schemas/ids/{p}/schema")), None).body,
        PROTO
    );
    local.register("z-key", &Schema::avro(A)).unwrap();
    assert_eq!(
        raw("GET", &url(&format!("/schemas/ids/{a}/subjects")), None).json(),
        json!(["x-value", "z-key"])
    );
    assert_eq!(
        raw("GET", &url(&format!("/schemas/ids/{a}/versions")), None).json(),
        json!([{"subject": "x-value", "version": 1}, {"subject": "z-key", "version": 1}])
    );
    let msg = raw("GET", &url("/schemas/ids/42"), None).assert_error(404, 40403);
    assert_eq!(msg, "Schema 42 not found");
    raw("GET", &url("/schemas/ids/42/versions"), None).assert_error(404, 40403);
    raw("GET", &url("/schemas/ids/abc"), None).assert_error(404, 40403);
    assert_eq!(
        raw("GET", &url("/schemas/types"), None).json(),
        json!(["JSON", "PROTOBUF", "AVRO"])
    );

    // Lookup.
    let r = raw(
        "POST",
        &url("/subjects/x-value"),
        Some(&register_body(&A.replace(' ', ""), None)),
    );
    assert_eq!(
        r.json(),
        json!({"subject": "x-value", "version": 1, "id": a, "schema": A})
    );
    raw(
        "POST",
        &url("/subjects/x-value"),
        Some(&register_body(B, None)),
    )
    .assert_error(404, 40403);
    // The same text as another type is another schema.
    raw(
        "POST",
        &url("/subjects/x-value"),
        Some(&register_body(A, Some("JSON"))),
    )
    .assert_error(404, 40403);
    raw(
        "POST",
        &url("/subjects/nope"),
        Some(&register_body(A, None)),
    )
    .assert_error(404, 40401);

    // Not found.
    let msg = raw("GET", &url("/subjects/nope/versions"), None).assert_error(404, 40401);
    assert_eq!(msg, "Subject 'nope' not found.");
    raw("GET", &url("/subjects/nope/versions/latest"), None).assert_error(404, 40401);
    let msg = raw("GET", &url("/subjects/x-value/versions/7"), None).assert_error(404, 40402);
    assert_eq!(msg, "Version 7 not found.");
    raw("GET", &url("/subjects/x-value/versions/0"), None).assert_error(422, 42202);
    raw("GET", &url("/subjects/x-value/versions/abc"), None).assert_error(422, 42202);
    raw("DELETE", &url("/subjects/nope"), None).assert_error(404, 40401);
    raw("GET", &url("/nope"), None).assert_error(404, 404);
    raw("GET", &url("/subjects/x-value/versions/1/nope"), None).assert_error(404, 404);
    raw("PUT", &url("/subjects"), Some("{}")).assert_error(405, 405);
    // Not UTF-8 once decoded, and an empty subject: no route, and no crash.
    raw("GET", &url("/subjects/%ff/versions"), None).assert_error(404, 404);
    raw(
        "POST",
        &url("/subjects//versions"),
        Some(&register_body(A, None)),
    )
    .assert_error(404, 404);

    // Invalid registrations.
    let msg = raw(
        "POST",
        &url("/subjects/x-value/versions"),
        Some(&register_body("{nope", None)),
    )
    .assert_error(422, 42201);
    assert!(msg.starts_with("Invalid schema"), "{msg}");
    raw(
        "POST",
        &url("/subjects/x-value/versions"),
        Some(&register_body("syntax = \"proto3\";", Some("JSON"))),
    )
    .assert_error(422, 42201);
    raw(
        "POST",
        &url("/subjects/x-value/versions"),
        Some(&register_body(A, Some("XML"))),
    )
    .assert_error(422, 42201);
    raw(
        "POST",
        &url("/subjects/x-value/versions"),
        Some(r#"{"schema": ""}"#),
    )
    .assert_error(422, 42201);
    let with_refs =
        json!({"schema": A, "references": [{"name": "b.avsc", "subject": "b", "version": 1}]});
    let msg = raw(
        "POST",
        &url("/subjects/x-value/versions"),
        Some(&with_refs.to_string()),
    )
    .assert_error(422, 42201);
    assert!(msg.contains("does not exist"), "{msg}");
    // Once the referenced subject exists, the reference is kept and answered back.
    let b = raw(
        "POST",
        &url("/subjects/b/versions"),
        Some(&json!({"schema": "syntax = \"proto3\"; message B { int64 t = 1; }", "schemaType": "PROTOBUF"}).to_string()),
    )
    .json()["id"]
        .as_u64()
        .unwrap();
    let importing = json!({
        "schema": "syntax = \"proto3\"; import \"b.proto\"; message A { B b = 1; }",
        "schemaType": "PROTOBUF",
        "references": [{"name": "b.proto", "subject": "b", "version": -1}]
    });
    let id = raw(
        "POST",
        &url("/subjects/refs-value/versions"),
        Some(&importing.to_string()),
    )
    .json()["id"]
        .as_u64()
        .unwrap();
    assert_ne!(id, b);
    let got = raw("GET", &url(&format!("/schemas/ids/{id}")), None).json();
    assert_eq!(
        got["references"],
        json!([{"name": "b.proto", "subject": "b", "version": 1}])
    );
    let by = raw("GET", &url("/subjects/b/versions/1/referencedby"), None).json();
    assert_eq!(by, json!([id]));
    // An empty reference list is fine.
    let r = raw(
        "POST",
        &url("/subjects/x-value/versions"),
        Some(&json!({"schema": A, "references": []}).to_string()),
    );
    assert_eq!(r.json(), json!({ "id": a }));
    raw("POST", &url("/subjects/x-value/versions"), Some("garbage")).assert_error(400, 400);
    raw("POST", &url("/subjects/x-value/versions"), Some("")).assert_error(400, 400);
    raw(
        "POST",
        &url("/subjects/x-value/versions"),
        Some(r#"{"schema": 5}"#),
    )
    .assert_error(400, 400);
    // Nothing invalid was registered.
    assert_eq!(local.versions("x-value").unwrap(), vec![1, 2]);

    // Delete.
    assert_eq!(
        raw("DELETE", &url("/subjects/x-value"), None).json(),
        json!([1, 2])
    );
    raw("GET", &url("/subjects/x-value/versions"), None).assert_error(404, 40401);

    // The server still answers after all that.
    assert_eq!(raw("GET", &url("/"), None).json(), json!({}));
    server.stop();
}

#[test]
fn compatibility_config_is_stored() {
    let server = start(LocalRegistry::in_memory());
    let url = |path: &str| format!("{}{path}", server.url);
    assert_eq!(
        raw("GET", &url("/config"), None).json(),
        json!({"compatibilityLevel": "BACKWARD"})
    );
    assert_eq!(
        raw("PUT", &url("/config"), Some(r#"{"compatibility": "full"}"#)).json(),
        json!({"compatibility": "FULL"})
    );
    assert_eq!(
        raw("GET", &url("/config"), None).json(),
        json!({"compatibilityLevel": "FULL"})
    );
    raw(
        "PUT",
        &url("/config"),
        Some(r#"{"compatibility": "SOMETIMES"}"#),
    )
    .assert_error(422, 42203);
    raw("PUT", &url("/config"), Some("{")).assert_error(400, 400);

    raw("GET", &url("/config/s-value"), None).assert_error(404, 40408);
    assert_eq!(
        raw("GET", &url("/config/s-value?defaultToGlobal=true"), None).json(),
        json!({"compatibilityLevel": "FULL"})
    );
    assert_eq!(
        raw(
            "PUT",
            &url("/config/s-value"),
            Some(r#"{"compatibility": "NONE"}"#)
        )
        .json(),
        json!({"compatibility": "NONE"})
    );
    assert_eq!(
        raw("GET", &url("/config/s-value"), None).json(),
        json!({"compatibilityLevel": "NONE"})
    );
    // The global level is unchanged.
    assert_eq!(
        raw("GET", &url("/config"), None).json(),
        json!({"compatibilityLevel": "FULL"})
    );
    assert_eq!(
        raw("DELETE", &url("/config/s-value"), None).json(),
        json!({"compatibilityLevel": "NONE"})
    );
    raw("GET", &url("/config/s-value"), None).assert_error(404, 40408);
    server.stop();
}

#[test]
fn compatibility_is_checked_and_enforced() {
    let local = LocalRegistry::in_memory();
    let server = start(local.clone());
    let url = |path: &str| format!("{}{path}", server.url);
    let v1 = r#"{"type": "record", "name": "R", "fields": [{"name": "a", "type": "long"}]}"#;
    let with_default = r#"{"type": "record", "name": "R", "fields": [{"name": "a", "type": "long"}, {"name": "b", "type": "string", "default": ""}]}"#;
    let without_default = r#"{"type": "record", "name": "R", "fields": [{"name": "a", "type": "long"}, {"name": "c", "type": "string"}]}"#;
    let register = |schema: &str| {
        raw(
            "POST",
            &url("/subjects/c-value/versions"),
            Some(&json!({ "schema": schema }).to_string()),
        )
    };
    assert_eq!(register(v1).status, 200);
    // BACKWARD (the default): the new schema must read the old data.
    let check = |schema: &str| {
        raw(
            "POST",
            &url("/compatibility/subjects/c-value/versions/latest?verbose=true"),
            Some(&json!({ "schema": schema }).to_string()),
        )
        .json()
    };
    assert_eq!(check(with_default)["is_compatible"], json!(true));
    let refused = check(without_default);
    assert_eq!(refused["is_compatible"], json!(false), "{refused}");
    assert!(!refused["messages"].as_array().unwrap().is_empty());
    let msg = register(without_default).assert_error(409, 409);
    assert!(msg.contains("incompatible"), "{msg}");
    assert_eq!(register(with_default).status, 200);
    // Re-registering an existing version is never refused.
    assert_eq!(register(v1).status, 200);
    // At NONE anything goes.
    raw(
        "PUT",
        &url("/config/c-value"),
        Some(r#"{"compatibility": "none"}"#),
    );
    assert_eq!(register(without_default).status, 200);
    assert_eq!(local.versions("c-value").unwrap(), vec![1, 2, 3]);
}
