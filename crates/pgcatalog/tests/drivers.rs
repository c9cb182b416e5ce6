//! Start-up, type-lookup and session SQL from drivers (tokio-postgres 0.7, pgjdbc 42.x) and the
//! common session statements, with their results and errors.

mod common;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use sluice_pgcatalog::{PgCatalogError, PG_SERVER_VERSION};
use sluice_pgwire::backend::Session;

use common::{catalog, columns, rows, tag};

/// tokio-postgres 0.7 `prepare.rs`: looks up a type it does not know.
const TOKIO_TYPEINFO: &str = "\
SELECT t.typname, t.typtype, t.typelem, r.rngsubtype, t.typbasetype, n.nspname, t.typrelid
FROM pg_catalog.pg_type t
LEFT OUTER JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid
INNER JOIN pg_catalog.pg_namespace n ON t.typnamespace = n.oid
WHERE t.oid = $1
";

/// tokio-postgres: the labels of an enum type.
const TOKIO_TYPEINFO_ENUM: &str = "\
SELECT enumlabel
FROM pg_catalog.pg_enum
WHERE enumtypid = $1
ORDER BY enumsortorder
";

/// tokio-postgres: the fields of a composite type.
const TOKIO_TYPEINFO_COMPOSITE: &str = "\
SELECT attname, atttypid
FROM pg_catalog.pg_attribute
WHERE attrelid = $1
AND NOT attisdropped
AND attnum > 0
ORDER BY attnum
";

/// pgjdbc 42.x `TypeInfoCache`: oid of a type by name.
const JDBC_OID_BY_NAME: &str = "SELECT pg_type.oid, typname   FROM pg_catalog.pg_type   LEFT   JOIN (select ns.oid as nspoid, ns.nspname, r.r           from pg_namespace as ns           join ( select s.r, (current_schemas(false))[s.r] as nspname                    from generate_series(1, array_upper(current_schemas(false), 1)) as s(r) ) as r          using ( nspname )        ) as sp     ON sp.nspoid = typnamespace  WHERE typname = $1  ORDER BY sp.r, pg_type.oid DESC LIMIT 1";

/// pgjdbc 42.x `TypeInfoCache`: what a type oid is.
const JDBC_TYPE_BY_OID: &str = "SELECT typinput='pg_catalog.array_in'::regproc as is_array, typtype, typname, pg_type.oid   FROM pg_catalog.pg_type   LEFT JOIN (select ns.oid as nspoid, ns.nspname, r.r           from pg_namespace as ns           join ( select s.r, (current_schemas(false))[s.r] as nspname                    from generate_series(1, array_upper(current_schemas(false), 1)) as s(r) ) as r          using ( nspname )        ) as sp     ON sp.nspoid = typnamespace  WHERE pg_type.oid = $1  ORDER BY sp.r, pg_type.oid DESC";

/// pgjdbc 42.x `TypeInfoCache`: the array type of a type.
const JDBC_ARRAY_TYPE: &str = "SELECT t.typarray, arr.typname   FROM pg_catalog.pg_type t  JOIN pg_catalog.pg_namespace n ON t.typnamespace = n.oid  JOIN pg_catalog.pg_type arr ON arr.oid = t.typarray WHERE t.typname = $1 AND (n.nspname = $2 OR $3 AND n.nspname = ANY (current_schemas(true))) ORDER BY t.oid DESC LIMIT 1";

fn err_code(r: Result<sluice_pgwire::backend::Outcome, PgCatalogError>) -> &'static str {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.sqlstate(),
    }
}

#[tokio::test]
async fn version_and_startup_queries() {
    let catalog = catalog().await;
    let out = catalog.execute("SELECT version()").await.unwrap();
    assert_eq!(columns(&out), vec!["version"]);
    let v = &rows(&out)[0][0];
    assert!(
        v.starts_with(&format!("PostgreSQL {PG_SERVER_VERSION} (Sluice")),
        "{v}"
    );

    let out = catalog.execute("SELECT current_schema()").await.unwrap();
    assert_eq!(columns(&out), vec!["current_schema"]);
    assert_eq!(rows(&out), vec![vec!["public".to_string()]]);

    let out = catalog.execute("select current_database()").await.unwrap();
    assert_eq!(rows(&out), vec![vec!["sluice".to_string()]]);

    let out = catalog
        .execute("select oid, typname from pg_type")
        .await
        .unwrap();
    let all = rows(&out);
    assert!(all.len() > 100, "{}", all.len());
    assert!(all.contains(&vec!["25".to_string(), "text".to_string()]));
    assert!(all.contains(&vec!["20".to_string(), "int8".to_string()]));
}

#[tokio::test]
async fn show_and_set_as_drivers_send_them() {
    let catalog = catalog().await;
    let s = catalog.session("alice");

    let out = s.execute("SHOW transaction_isolation").await.unwrap();
    assert_eq!(columns(&out), vec!["transaction_isolation"]);
    assert_eq!(rows(&out), vec![vec!["read committed".to_string()]]);
    assert_eq!(tag(&out).as_deref(), Some("SHOW"));

    let out = s.execute("SET extra_float_digits = 3").await.unwrap();
    assert_eq!(tag(&out).as_deref(), Some("SET"));
    let out = s
        .execute("SET application_name = 'PostgreSQL JDBC Driver'")
        .await
        .unwrap();
    assert_eq!(tag(&out).as_deref(), Some("SET"));
    assert_eq!(
        s.take_reported_changes(),
        vec![(
            "application_name".to_string(),
            "PostgreSQL JDBC Driver".to_string()
        )]
    );

    let out = s.execute("show EXTRA_FLOAT_DIGITS").await.unwrap();
    assert_eq!(columns(&out), vec!["extra_float_digits"]);
    assert_eq!(rows(&out), vec![vec!["3".to_string()]]);

    let out = s.execute("SHOW timezone").await.unwrap();
    assert_eq!(columns(&out), vec!["TimeZone"]);
    s.execute("SET TIME ZONE 'Europe/Berlin'").await.unwrap();
    let out = s.execute("SHOW TIME ZONE").await.unwrap();
    assert_eq!(rows(&out), vec![vec!["Europe/Berlin".to_string()]]);

    let out = s
        .execute("SELECT current_setting('application_name')")
        .await
        .unwrap();
    assert_eq!(rows(&out), vec![vec!["PostgreSQL JDBC Driver".to_string()]]);

    let out = s.execute("RESET application_name").await.unwrap();
    assert_eq!(tag(&out).as_deref(), Some("RESET"));
    assert_eq!(s.setting("application_name").as_deref(), Some(""));

    let out = s.execute("SELECT current_user").await.unwrap();
    assert_eq!(rows(&out), vec![vec!["alice".to_string()]]);
    let out = s.execute("SELECT session_user").await.unwrap();
    assert_eq!(rows(&out), vec![vec!["alice".to_string()]]);

    let out = s.execute("SHOW ALL").await.unwrap();
    assert_eq!(columns(&out), vec!["name", "setting", "description"]);
    let all = rows(&out);
    assert!(all
        .iter()
        .any(|r| r[0] == "extra_float_digits" && r[1] == "3"));
    assert!(all
        .iter()
        .any(|r| r[0] == "server_version" && r[1] == PG_SERVER_VERSION));

    let out = s
        .execute("SELECT set_config('my.flag', 'on', false)")
        .await
        .unwrap();
    assert_eq!(rows(&out), vec![vec!["on".to_string()]]);
    assert_eq!(s.setting("my.flag").as_deref(), Some("on"));

    let out = s.execute("DISCARD ALL").await.unwrap();
    assert_eq!(tag(&out).as_deref(), Some("DISCARD ALL"));
    assert_eq!(s.setting("extra_float_digits").as_deref(), Some("1"));
}

#[tokio::test]
async fn sessions_do_not_share_variables() {
    let catalog = catalog().await;
    let a = catalog.session("a");
    let b = catalog.session("b");
    a.execute("SET application_name TO 'first'").await.unwrap();
    b.execute("SET application_name TO 'second'").await.unwrap();
    assert_eq!(a.setting("application_name").as_deref(), Some("first"));
    assert_eq!(b.setting("application_name").as_deref(), Some("second"));
    let out = b
        .execute("SELECT current_setting('application_name')")
        .await
        .unwrap();
    assert_eq!(rows(&out), vec![vec!["second".to_string()]]);
    // Sessions see relations set after they were opened.
    catalog.set_relations(vec![]).unwrap();
    let out = a
        .execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
        .await
        .unwrap();
    assert_eq!(rows(&out), vec![vec!["0".to_string()]]);
}

#[tokio::test]
async fn tokio_postgres_type_lookups() {
    let catalog = catalog().await;
    let s = catalog.session("u");

    let d = s.describe_statement(TOKIO_TYPEINFO).await.unwrap();
    assert_eq!(d.params.len(), 1);
    assert_eq!(d.columns.as_ref().unwrap().fields().len(), 7);

    let out = s
        .execute_with_params(TOKIO_TYPEINFO, &[ScalarValue::UInt32(Some(25))])
        .await
        .unwrap();
    let r = rows(&out);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0][0], "text");
    assert_eq!(r[0][1], "b");
    assert_eq!(r[0][5], "pg_catalog");

    let out = s
        .execute_with_params(TOKIO_TYPEINFO_ENUM, &[ScalarValue::UInt32(Some(25))])
        .await
        .unwrap();
    assert!(rows(&out).is_empty());

    // The composite lookup over a Sluice relation lists its columns.
    let oid = rows(
        &s.execute("SELECT oid FROM pg_catalog.pg_class WHERE relname = 'PAGEVIEWS'")
            .await
            .unwrap(),
    )[0][0]
        .parse::<i32>()
        .unwrap();
    let out = s
        .execute_with_params(TOKIO_TYPEINFO_COMPOSITE, &[ScalarValue::Int32(Some(oid))])
        .await
        .unwrap();
    let r = rows(&out);
    assert_eq!(
        r,
        vec![
            vec!["USER_ID".to_string(), "25".to_string()],
            vec!["PAGE".to_string(), "25".to_string()],
            vec!["MS".to_string(), "20".to_string()],
        ]
    );
}

#[tokio::test]
async fn jdbc_type_lookups() {
    let catalog = catalog().await;
    let s = catalog.session("u");

    let out = s
        .execute_with_params(JDBC_OID_BY_NAME, &[ScalarValue::Utf8(Some("int4".into()))])
        .await
        .unwrap();
    assert_eq!(rows(&out), vec![vec!["23".to_string(), "int4".to_string()]]);

    let out = s
        .execute_with_params(JDBC_TYPE_BY_OID, &[ScalarValue::Int32(Some(1007))])
        .await
        .unwrap();
    let r = rows(&out);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0][0], "true", "int4[] is an array: {r:?}");
    assert_eq!(r[0][2], "_int4");

    let out = s
        .execute_with_params(
            JDBC_ARRAY_TYPE,
            &[
                ScalarValue::Utf8(Some("int4".into())),
                ScalarValue::Utf8(None),
                ScalarValue::Boolean(Some(true)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        rows(&out),
        vec![vec!["1007".to_string(), "_int4".to_string()]]
    );
}

#[tokio::test]
async fn information_schema_lists_relations_and_columns() {
    let catalog = catalog().await;
    let out = catalog
        .execute(
            "SELECT table_name FROM information_schema.tables \
             WHERE table_schema = 'public' ORDER BY table_name",
        )
        .await
        .unwrap();
    assert_eq!(
        rows(&out),
        vec![vec!["PAGEVIEWS".to_string()], vec!["USERS".to_string()]]
    );
    let out = catalog
        .execute(
            "SELECT column_name FROM information_schema.columns \
             WHERE table_name = 'PAGEVIEWS' ORDER BY ordinal_position",
        )
        .await
        .unwrap();
    assert_eq!(
        rows(&out),
        vec![
            vec!["USER_ID".to_string()],
            vec!["PAGE".to_string()],
            vec!["MS".to_string()]
        ]
    );
}

#[tokio::test]
async fn errors_carry_sqlstates() {
    let catalog = catalog().await;
    assert_eq!(err_code(catalog.execute("SELEC 1").await), "42601");
    assert_eq!(
        err_code(catalog.execute("SELECT * FROM nope").await),
        "42P01"
    );
    assert_eq!(
        err_code(
            catalog
                .execute("SELECT nope FROM pg_catalog.pg_class")
                .await
        ),
        "42703"
    );
    assert_eq!(
        err_code(catalog.execute("SELECT no_such_fn(1)").await),
        "42883"
    );
    assert_eq!(
        err_code(catalog.execute("CREATE TABLE t (a INT)").await),
        "0A000"
    );
    assert_eq!(
        err_code(
            catalog
                .execute("INSERT INTO \"PAGEVIEWS\" VALUES ('a', 'b', 1)")
                .await
        ),
        "0A000"
    );
    assert_eq!(
        err_code(catalog.execute("SELECT 1; SELECT 2").await),
        "0A000"
    );
    assert_eq!(
        err_code(catalog.execute("SHOW no_such_setting").await),
        "42704"
    );
    assert_eq!(
        err_code(
            catalog
                .execute("SELECT current_setting('no_such_setting')")
                .await
        ),
        "42704"
    );
    assert_eq!(
        err_code(catalog.execute("SET server_version = '9.0'").await),
        "55P02"
    );
    assert_eq!(err_code(catalog.execute("SET").await), "42601");
    assert_eq!(
        err_code(
            catalog
                .execute("SELECT typname FROM pg_type WHERE oid = $1")
                .await
        ),
        "42P02"
    );
}

#[tokio::test]
async fn describe_reports_result_shapes() {
    let catalog = catalog().await;
    let schema = catalog.describe("SELECT version()").await.unwrap().unwrap();
    assert_eq!(schema.field(0).name(), "version");
    assert_eq!(schema.field(0).data_type(), &DataType::Utf8);

    assert!(catalog.describe("SET x = 1").await.unwrap().is_none());
    let schema = catalog.describe("SHOW DateStyle").await.unwrap().unwrap();
    assert_eq!(schema.field(0).name(), "DateStyle");

    let d = catalog
        .describe_statement("SELECT typname FROM pg_catalog.pg_type WHERE typname = $1")
        .await
        .unwrap();
    assert_eq!(d.params, vec![DataType::Utf8]);
    assert_eq!(d.columns.unwrap().field(0).name(), "typname");
}

#[tokio::test]
async fn pg_session_is_a_backend_session() {
    let catalog = catalog().await;
    let session: Box<dyn Session> = Box::new(catalog.session("bob"));
    let out = session.execute("SHOW session_authorization").await.unwrap();
    assert_eq!(rows(&out), vec![vec!["bob".to_string()]]);
    let err = match session.execute("SELECT * FROM nope").await {
        Err(e) => e,
        Ok(_) => panic!("expected an error"),
    };
    assert_eq!(err.sqlstate, "42P01");
    let d = session.describe("SHOW ALL").await.unwrap();
    assert_eq!(d.columns.unwrap().fields().len(), 3);
}
